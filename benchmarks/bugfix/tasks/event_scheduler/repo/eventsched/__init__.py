"""A discrete-event scheduler driven by a virtual clock."""

from eventsched.events import Event
from eventsched.scheduler import Scheduler

__all__ = ["Event", "Scheduler"]
