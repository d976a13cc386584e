import unittest

from retrying import retry


class GiveUpTests(unittest.TestCase):
    def test_last_exception_propagates(self):
        calls = []

        @retry(times=2, on=(ConnectionError,), sleep=lambda s: None)
        def fetch():
            calls.append(1)
            raise ConnectionError(f"attempt {len(calls)}")

        with self.assertRaises(ConnectionError) as caught:
            fetch()
        self.assertEqual(str(caught.exception), "attempt 3")
        self.assertEqual(len(calls), 3)

    def test_zero_retries(self):
        @retry(times=0, sleep=lambda s: None)
        def once():
            raise ValueError("no")

        with self.assertRaises(ValueError):
            once()


if __name__ == "__main__":
    unittest.main()
