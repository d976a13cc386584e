"""Clocks: the real monotonic one and a fake one for tests."""

import time


class MonotonicClock:
    def now(self):
        return time.monotonic()


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start=0.0):
        self.t = float(start)

    def now(self):
        return self.t

    def advance(self, seconds):
        self.t += seconds
