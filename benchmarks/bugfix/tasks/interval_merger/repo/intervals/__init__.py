"""Closed integer intervals: merging, total length and gaps."""

from intervals.merge import gaps, merge, total_length
from intervals.model import Interval

__all__ = ["Interval", "gaps", "merge", "total_length"]
