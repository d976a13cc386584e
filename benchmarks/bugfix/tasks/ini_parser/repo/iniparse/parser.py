"""Turn INI text into nested dictionaries."""


class ParseError(ValueError):
    """The text is not valid INI."""


def _strip_comment(line):
    for marker in (";", "#"):
        if line.lstrip().startswith(marker):
            return ""
    return line


def parse(text):
    """Parse INI `text` into {section: {key: value}}. Keys before any section go
    into the "DEFAULT" section."""
    sections = {"DEFAULT": {}}
    current = sections["DEFAULT"]
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw).strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            name = line[1:-1].strip()
            if not name:
                raise ParseError(f"line {number}: empty section name")
            current = sections.setdefault(name, {})
            continue
        if "=" not in line:
            raise ParseError(f"line {number}: expected key = value")
        key, value = line.split("=")
        key = key.strip().lower()
        if not key:
            raise ParseError(f"line {number}: empty key")
        current[key] = value.strip()
    return sections
