"""A tokenizer for a small expression language."""

from lexer.scanner import LexError, tokenize
from lexer.tokens import Token

__all__ = ["LexError", "Token", "tokenize"]
