"""The offline `sim` model: not a language model, a deterministic player of the loop's
sessions (solve from the task's reference, diagnose and self-modify from a catalogue of
edits), reached through litellm as a custom provider like any real model."""

from dgm.fm.sim.model import respond
from dgm.fm.sim.types import SimRequest

__all__ = ["SimRequest", "respond"]
