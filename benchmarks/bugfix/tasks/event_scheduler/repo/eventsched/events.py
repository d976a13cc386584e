"""An event: a callback due at a time."""


class Event:
    def __init__(self, due, callback, name=None):
        self.due = float(due)
        self.callback = callback
        self.name = name or getattr(callback, "__name__", "event")
        self.cancelled = False

    def cancel(self):
        self.cancelled = True

    def __repr__(self):
        return f"Event({self.name!r}, due={self.due})"
