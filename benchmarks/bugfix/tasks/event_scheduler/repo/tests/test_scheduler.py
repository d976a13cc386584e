import unittest

from eventsched import Scheduler


class SchedulerTests(unittest.TestCase):
    def test_time_order(self):
        sched, seen = Scheduler(), []
        sched.schedule(5, lambda: seen.append("late"))
        sched.schedule(1, lambda: seen.append("early"))
        self.assertEqual(sched.run_until(10), 2)
        self.assertEqual(seen, ["early", "late"])
        self.assertEqual(sched.now, 10)

    def test_cancel(self):
        sched, seen = Scheduler(), []
        event = sched.schedule(1, lambda: seen.append("x"))
        event.cancel()
        self.assertEqual(sched.pending(), 0)
        sched.run_until(2)
        self.assertEqual(seen, [])

    def test_negative_delay(self):
        with self.assertRaises(ValueError):
            Scheduler().schedule(-1, print)


if __name__ == "__main__":
    unittest.main()
