"""Encode runs as <count><char>. Digits cannot be encoded (they would be ambiguous)."""

from itertools import groupby


def encode(text):
    if any(ch.isdigit() for ch in text):
        raise ValueError("digits cannot be run-length encoded")
    return "".join(f"{len(list(group))}{ch}" for ch, group in groupby(text))
