import unittest

from ratelimit import FakeClock, RateLimiter, TokenBucket


class BucketTests(unittest.TestCase):
    def test_starts_full(self):
        bucket = TokenBucket(3, 1, FakeClock())
        self.assertEqual([bucket.try_take() for _ in range(4)], [True, True, True, False])

    def test_refills_over_time(self):
        clock = FakeClock()
        bucket = TokenBucket(2, 1, clock)
        bucket.try_take(2)
        clock.advance(1)
        self.assertTrue(bucket.try_take())
        self.assertFalse(bucket.try_take())

    def test_rejects_bad_settings(self):
        with self.assertRaises(ValueError):
            TokenBucket(0, 1, FakeClock())


class LimiterTests(unittest.TestCase):
    def test_keys_are_independent(self):
        limiter = RateLimiter(per_second=1, burst=1, clock=FakeClock())
        self.assertTrue(limiter.allow("a"))
        self.assertFalse(limiter.allow("a"))
        self.assertTrue(limiter.allow("b"))


if __name__ == "__main__":
    unittest.main()
