"""Run events in time order; events due at the same time run in the order they
were scheduled."""

import heapq
import itertools

from eventsched.events import Event


class Scheduler:
    def __init__(self, start=0.0):
        self.now = float(start)
        self._queue = []
        self._sequence = itertools.count()

    def schedule(self, delay, callback, name=None):
        if delay < 0:
            raise ValueError("delay must not be negative")
        event = Event(self.now + delay, callback, name)
        heapq.heappush(self._queue, (event.due, event))
        return event

    def pending(self):
        return sum(1 for *_, e in self._queue if not e.cancelled)

    def run_until(self, time):
        """Run every event due up to and including `time`; return how many ran."""
        ran = 0
        while self._queue and self._queue[0][0] <= time:
            *_, event = heapq.heappop(self._queue)
            self.now = event.due
            if not event.cancelled:
                event.callback()
                ran += 1
        self.now = max(self.now, float(time))
        return ran
