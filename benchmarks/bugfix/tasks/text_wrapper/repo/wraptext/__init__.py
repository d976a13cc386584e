"""Greedy word wrapping with hyphen-free long-word splitting."""

from wraptext.words import split_long, words
from wraptext.wrapper import fill, wrap

__all__ = ["fill", "split_long", "words", "wrap"]
