import unittest

from eventsched import Scheduler


class SameTimeTests(unittest.TestCase):
    def test_same_time_runs_in_schedule_order(self):
        sched, seen = Scheduler(), []
        for name in ["first", "second", "third"]:
            sched.schedule(2, lambda n=name: seen.append(n))
        self.assertEqual(sched.run_until(2), 3)
        self.assertEqual(seen, ["first", "second", "third"])

    def test_mixed(self):
        sched, seen = Scheduler(), []
        sched.schedule(1, lambda: seen.append("a"))
        sched.schedule(0, lambda: seen.append("b"))
        sched.schedule(1, lambda: seen.append("c"))
        sched.run_until(1)
        self.assertEqual(seen, ["b", "a", "c"])


if __name__ == "__main__":
    unittest.main()
