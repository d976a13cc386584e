"""Lenient parsing of ISO dates."""

from datetime import date


def parse_date(value):
    """A `date` from a date, 'YYYY-MM-DD' or 'YYYY/MM/DD'."""
    if isinstance(value, date):
        return value
    text = str(value).strip().replace("/", "-")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date: {value!r}") from None
