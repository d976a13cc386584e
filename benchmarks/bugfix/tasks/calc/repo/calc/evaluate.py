"""Walk the tree."""

from calc.lexer import tokenize
from calc.parser import ParseError, Parser


class CalcError(ValueError):
    pass


def _walk(node):
    if isinstance(node, float):
        return node
    if node[0] == "neg":
        return -_walk(node[1])
    op, left, right = node
    a, b = _walk(left), _walk(right)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        raise CalcError("division by zero")
    return a / b


def evaluate(text):
    try:
        return _walk(Parser(tokenize(text)).parse())
    except ParseError as exc:
        raise CalcError(str(exc)) from None
