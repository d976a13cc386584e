"""Semantic versions: parsing, ordering and simple ranges."""

from semver.compare import compare, max_satisfying
from semver.version import Version, parse

__all__ = ["Version", "compare", "max_satisfying", "parse"]
