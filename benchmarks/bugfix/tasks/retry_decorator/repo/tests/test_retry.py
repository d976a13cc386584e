import unittest

from retrying import Backoff, retry


class RetryTests(unittest.TestCase):
    def test_succeeds_after_failures(self):
        calls, waits = [], []

        @retry(times=3, sleep=waits.append)
        def flaky():
            calls.append(1)
            if len(calls) < 3:
                raise OSError("busy")
            return "ok"

        self.assertEqual(flaky(), "ok")
        self.assertEqual(len(calls), 3)
        self.assertEqual(waits, [0.1, 0.2])

    def test_unlisted_exception_is_not_retried(self):
        calls = []

        @retry(times=3, on=(OSError,), sleep=lambda s: None)
        def broken():
            calls.append(1)
            raise KeyError("x")

        with self.assertRaises(KeyError):
            broken()
        self.assertEqual(len(calls), 1)

    def test_backoff_cap(self):
        self.assertEqual(Backoff(1, 10, 50).delays(3), [1, 10, 50])


if __name__ == "__main__":
    unittest.main()
