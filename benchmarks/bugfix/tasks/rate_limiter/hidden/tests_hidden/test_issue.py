import unittest

from ratelimit import FakeClock, RateLimiter, TokenBucket


class BurstTests(unittest.TestCase):
    def test_idle_does_not_grow_burst(self):
        clock = FakeClock()
        limiter = RateLimiter(per_second=2, burst=5, clock=clock)
        limiter.allow("u")
        clock.advance(3600)
        allowed = sum(limiter.allow("u") for _ in range(100))
        self.assertEqual(allowed, 5)

    def test_available_never_exceeds_capacity(self):
        clock = FakeClock()
        bucket = TokenBucket(4, 10, clock)
        clock.advance(60)
        self.assertEqual(bucket.available(), 4)

    def test_refill_still_works(self):
        clock = FakeClock()
        bucket = TokenBucket(2, 1, clock)
        bucket.try_take(2)
        clock.advance(1.5)
        self.assertTrue(bucket.try_take())
        self.assertFalse(bucket.try_take())


if __name__ == "__main__":
    unittest.main()
