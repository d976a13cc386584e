"""Tokens: numbers (ints and decimals like 2.5 or .5), operators, parentheses."""

import re

_TOKEN = re.compile(r"\s*(?:(\d+\.\d*|\.\d+|\d+)|(.))")


def tokenize(text):
    tokens = []
    for number, op in _TOKEN.findall(text):
        if number:
            tokens.append(("num", float(number)))
        elif op.strip():
            tokens.append(("op", op))
    return tokens
