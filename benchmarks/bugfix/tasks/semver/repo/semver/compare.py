"""Ordering by semver precedence (build metadata is ignored)."""

from semver.version import Version, parse


def _pre_key(prerelease):
    # A release has higher precedence than any of its pre-releases; numeric
    # identifiers sort below alphanumeric ones and numerically among themselves.
    return tuple(str(p) for p in prerelease)


def sort_key(version):
    v = version if isinstance(version, Version) else parse(version)
    return (v.major, v.minor, v.patch, _pre_key(v.prerelease))


def compare(a, b):
    """-1, 0 or 1 as `a` has lower, equal or higher precedence than `b`."""
    ka, kb = sort_key(a), sort_key(b)
    return (ka > kb) - (ka < kb)


def max_satisfying(versions, minimum, include_prerelease=False):
    """The highest version >= `minimum`, or None."""
    floor = sort_key(minimum)
    ok = [v for v in versions if sort_key(v) >= floor
          and (include_prerelease or not parse(str(v)).prerelease)]
    return max(ok, key=sort_key, default=None)
