"""Format and split money amounts."""

from money.amount import to_cents
from money.format import format_money
from money.split import split_evenly

__all__ = ["format_money", "split_evenly", "to_cents"]
