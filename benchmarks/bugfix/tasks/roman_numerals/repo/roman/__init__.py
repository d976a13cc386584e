"""Roman numerals for 1..3999."""

from roman.convert import from_roman, to_roman
from roman.validate import is_roman

__all__ = ["from_roman", "is_roman", "to_roman"]
