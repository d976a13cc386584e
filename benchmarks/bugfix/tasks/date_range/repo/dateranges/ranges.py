"""Ranges of days. Both ends are inclusive everywhere in this module."""

from datetime import timedelta

from dateranges.parse import parse_date


def date_range(start, end, step=1):
    """Every `step`-th day from `start` to `end`, both included."""
    first, last = parse_date(start), parse_date(end)
    if step < 1:
        raise ValueError("step must be positive")
    days = (last - first).days
    return [first + timedelta(days=i) for i in range(0, days, step)]


def business_days(start, end):
    """The weekdays (Monday to Friday) from `start` to `end`, both included."""
    return [day for day in date_range(start, end) if day.weekday() < 5]


def overlap_days(a, b):
    """How many days two (start, end) ranges share."""
    start = max(parse_date(a[0]), parse_date(b[0]))
    end = min(parse_date(a[1]), parse_date(b[1]))
    return max(0, (end - start).days + 1)
