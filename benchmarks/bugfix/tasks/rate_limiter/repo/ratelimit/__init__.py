"""Token-bucket rate limiting with an injectable clock."""

from ratelimit.bucket import TokenBucket
from ratelimit.clock import FakeClock, MonotonicClock
from ratelimit.limiter import RateLimiter

__all__ = ["FakeClock", "MonotonicClock", "RateLimiter", "TokenBucket"]
