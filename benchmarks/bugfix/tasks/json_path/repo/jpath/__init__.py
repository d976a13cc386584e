"""Read values out of nested JSON data with paths like 'a.b[2].c'."""

from jpath.get import PathError, get
from jpath.parse import parse_path

__all__ = ["PathError", "get", "parse_path"]
