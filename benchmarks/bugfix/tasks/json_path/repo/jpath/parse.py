"""Split a path into keys (str) and list indexes (int)."""

import re

_STEP = re.compile(r"\.?([A-Za-z_][\w-]*)|\[(-?\d)\]")


def parse_path(path):
    steps, pos = [], 0
    while pos < len(path):
        found = _STEP.match(path, pos)
        if not found or found.end() == pos:
            raise ValueError(f"bad path {path!r} at {pos}")
        key, index = found.groups()
        steps.append(key if key is not None else int(index))
        pos = found.end()
    return steps
