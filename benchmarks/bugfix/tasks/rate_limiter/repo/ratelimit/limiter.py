"""Per-key rate limiting on top of token buckets."""

from ratelimit.bucket import TokenBucket
from ratelimit.clock import MonotonicClock


class RateLimiter:
    """Allow at most `per_second` requests per second per key, bursts up to `burst`."""

    def __init__(self, per_second, burst, clock=None):
        self.per_second = per_second
        self.burst = burst
        self.clock = clock or MonotonicClock()
        self._buckets = {}

    def allow(self, key):
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self.burst, self.per_second, self.clock)
            self._buckets[key] = bucket
        return bucket.try_take()
