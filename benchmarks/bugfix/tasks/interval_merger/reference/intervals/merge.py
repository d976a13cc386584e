"""Merge overlapping or touching closed intervals."""

from intervals.model import Interval


def merge(items):
    """Merge intervals (or (start, end) pairs) that overlap or touch; sorted result."""
    spans = sorted(i if isinstance(i, Interval) else Interval.of(i) for i in items)
    merged = []
    for span in spans:
        if merged and span.start <= merged[-1].end:
            last = merged.pop()
            span = Interval(last.start, max(last.end, span.end))
        merged.append(span)
    return merged


def total_length(items):
    """Total length covered by the intervals, overlaps counted once."""
    return sum(span.length() for span in merge(items))


def gaps(items):
    """The open stretches between merged intervals, as (end, next_start) pairs."""
    spans = merge(items)
    return [(a.end, b.start) for a, b in zip(spans, spans[1:])]
