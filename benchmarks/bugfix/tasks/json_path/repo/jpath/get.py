"""Follow a parsed path through dicts and lists."""

from jpath.parse import parse_path

_MISSING = object()


class PathError(LookupError):
    pass


def get(data, path, default=_MISSING):
    """The value at `path`; `default` when given and the path is missing."""
    node = data
    for step in parse_path(path):
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            if default is not _MISSING:
                return default
            raise PathError(f"{path!r}: no {step!r}") from None
    return node
