"""Typed access to parsed INI data."""

from iniparse.parser import parse


class Config:
    """Parsed INI data with typed getters and DEFAULT fallback."""

    def __init__(self, sections):
        self._sections = sections

    @classmethod
    def from_text(cls, text):
        return cls(parse(text))

    def sections(self):
        return [name for name in self._sections if name != "DEFAULT"]

    def get(self, section, key, fallback=None):
        key = key.lower()
        values = self._sections.get(section, {})
        if key in values:
            return values[key]
        return self._sections["DEFAULT"].get(key, fallback)

    def getint(self, section, key, fallback=None):
        value = self.get(section, key)
        return fallback if value is None else int(value)

    def getbool(self, section, key, fallback=None):
        value = self.get(section, key)
        if value is None:
            return fallback
        return value.lower() in ("1", "yes", "true", "on")
