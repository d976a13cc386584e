import signal
import unittest

from logstats import distinct_report, unique_in_order

BOUND_SECONDS = 5  # the fixed code needs well under a second


class TooSlow(Exception):
    pass


def _alarm(signum, frame):
    raise TooSlow(f"took more than {BOUND_SECONDS}s")


class ScaleTests(unittest.TestCase):
    def setUp(self):
        self.previous = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(BOUND_SECONDS)

    def tearDown(self):
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self.previous)

    def test_large_log(self):
        lines = [f"user{i} login from host{i % 50}" for i in range(100_000)]
        count, distinct = distinct_report(lines)
        self.assertEqual(count, 100_000 + 50 + 2)
        self.assertEqual(distinct[:4], ["user0", "login", "from", "host0"])

    def test_many_distinct_items(self):
        items = list(range(200_000)) * 2
        self.assertEqual(unique_in_order(items), list(range(200_000)))

    def test_unhashable_not_required_but_order_kept(self):
        self.assertEqual(unique_in_order([3, 1, 3, 2, 1]), [3, 1, 2])


if __name__ == "__main__":
    unittest.main()
