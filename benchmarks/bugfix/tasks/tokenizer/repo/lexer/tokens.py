"""Token kinds and the Token record."""

from typing import NamedTuple

NUMBER, STRING, NAME, OP = "NUMBER", "STRING", "NAME", "OP"
OPERATORS = ("==", "!=", "<=", ">=", "+", "-", "*", "/", "(", ")", "<", ">", ",")


class Token(NamedTuple):
    kind: str
    value: object
    pos: int
