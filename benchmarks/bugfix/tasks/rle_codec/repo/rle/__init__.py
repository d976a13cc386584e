"""Run-length encoding of text: 'aaab' <-> '3a1b'."""

from rle.decode import decode
from rle.encode import encode

__all__ = ["decode", "encode"]
