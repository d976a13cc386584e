"""One route: a path pattern like '/users/{id:int}' compiled to a regex."""

import re

_PARAM = re.compile(r"{(\w+)(?::(\w+))?}")
_TYPES = {"str": (r"[^/]+", str), "int": (r"\d+", int), "path": (r".+", str)}


class Route:
    def __init__(self, pattern, handler, methods=("GET",)):
        self.pattern = pattern
        self.handler = handler
        self.methods = {m.upper() for m in methods}
        self.converters = {}
        regex, pos = "", 0
        for match in _PARAM.finditer(pattern):
            name, kind = match.group(1), match.group(2) or "str"
            if kind not in _TYPES:
                raise ValueError(f"unknown parameter type {kind!r} in {pattern!r}")
            part, convert = _TYPES[kind]
            regex += re.escape(pattern[pos:match.start()]) + f"(?P<{name}>{part})"
            self.converters[name] = convert
            pos = match.end()
        regex += re.escape(pattern[pos:])
        self.regex = re.compile(regex)

    def match(self, path):
        """The converted parameters when `path` matches this route, else None."""
        found = self.regex.fullmatch(path)
        if found is None:
            return None
        return {k: self.converters[k](v) for k, v in found.groupdict().items()}
