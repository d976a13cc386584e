"""Split a bill into shares that add up exactly."""

from money.amount import to_cents


def split_evenly(amount, people):
    """Cents per person; the first shares carry the leftover cents."""
    if people < 1:
        raise ValueError("people must be at least 1")
    base, extra = divmod(to_cents(amount), people)
    return [base + (1 if i < extra else 0) for i in range(people)]
