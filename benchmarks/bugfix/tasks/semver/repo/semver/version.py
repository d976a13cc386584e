"""Parse 'MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]'."""

import re
from typing import NamedTuple

_RE = re.compile(r"v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?")


class Version(NamedTuple):
    major: int
    minor: int
    patch: int
    prerelease: tuple = ()
    build: str = ""

    def __str__(self):
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(str(p) for p in self.prerelease)
        return text + (f"+{self.build}" if self.build else "")


def parse(text):
    found = _RE.fullmatch(text.strip())
    if not found:
        raise ValueError(f"not a semantic version: {text!r}")
    major, minor, patch, pre, build = found.groups()
    parts = tuple(int(p) if p.isdigit() else p for p in pre.split(".")) if pre else ()
    return Version(int(major), int(minor), int(patch), parts, build or "")
