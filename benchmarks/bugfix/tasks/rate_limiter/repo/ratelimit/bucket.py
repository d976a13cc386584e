"""A token bucket: `capacity` tokens, refilled at `rate` tokens per second."""


class TokenBucket:
    def __init__(self, capacity, rate, clock):
        if capacity <= 0 or rate <= 0:
            raise ValueError("capacity and rate must be positive")
        self.capacity = capacity
        self.rate = rate
        self.clock = clock
        self.tokens = float(capacity)
        self.updated = clock.now()

    def _refill(self):
        now = self.clock.now()
        elapsed = max(0.0, now - self.updated)
        self.tokens = self.tokens + elapsed * self.rate
        self.updated = now

    def available(self):
        self._refill()
        return self.tokens

    def try_take(self, n=1):
        """Take `n` tokens if there are enough; return whether it worked."""
        self._refill()
        if self.tokens >= n:
            self.tokens -= n
            return True
        return False
