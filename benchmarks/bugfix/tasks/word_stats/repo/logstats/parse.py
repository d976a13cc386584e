"""Split log lines into lower-case words."""

import re

_WORD = re.compile(r"[A-Za-z0-9_]+")


def words(lines):
    for line in lines:
        for word in _WORD.findall(line):
            yield word.lower()
