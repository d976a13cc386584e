"""Retry a function with exponential backoff."""

from retrying.decorator import retry
from retrying.policy import Backoff

__all__ = ["Backoff", "retry"]
