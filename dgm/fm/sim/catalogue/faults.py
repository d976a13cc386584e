"""Realistic bugs `sim` injects into a reference solution: a flipped comparison, an
off-by-one constant, a swapped operator or boolean, a dropped statement."""

from __future__ import annotations

import ast
import io
import tokenize

import numpy as np

# token -> replacement; chosen so that the program still parses but behaves differently
SWAPS = {
    "<": "<=",
    "<=": "<",
    ">": ">=",
    ">=": ">",
    "==": "!=",
    "!=": "==",
    "+": "-",
    "-": "+",
    "and": "or",
    "or": "and",
    "True": "False",
    "False": "True",
    "min": "max",
    "max": "min",
    "not": "",
    "+=": "-=",
    "-=": "+=",
    "//": "/",
}


def inject_fault(text: str, rng: np.random.Generator) -> str:
    """Return `text` with one bug chosen by `rng`; Python code gets a token-level mutation or
    a dropped statement, other text loses a line."""
    candidates = _token_mutations(text) + _dropped_statements(text)
    if not candidates:
        lines = text.splitlines(keepends=True)
        if not lines:
            return "\n"
        del lines[int(rng.integers(len(lines)))]
        return "".join(lines)
    return candidates[int(rng.integers(len(candidates)))]


def _code_lines(text: str) -> set[int] | None:
    """1-based lines inside function bodies that are not docstrings; None if not Python."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for stmt in node.body:
                if _is_docstring(stmt):
                    continue
                lines.update(range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1))
    return lines


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _token_mutations(text: str) -> list[str]:
    lines = _code_lines(text)
    if not lines:
        return []
    offsets = [0]
    for line in text.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    out = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []
    for tok in tokens:
        (row, col), (erow, ecol) = tok.start, tok.end
        if row not in lines or row != erow:
            continue
        new = None
        if tok.type in (tokenize.OP, tokenize.NAME) and tok.string in SWAPS:
            new = SWAPS[tok.string]
        elif tok.type == tokenize.NUMBER and tok.string.isdigit():
            new = str(int(tok.string) + 1)  # off by one
        if new is None:
            continue
        start, end = offsets[row - 1] + col, offsets[row - 1] + ecol
        mutated = text[:start] + new + text[end:]
        if _parses(mutated):
            out.append(mutated)
    return out


def _dropped_statements(text: str) -> list[str]:
    """Drop one single-line statement from a function body that has other statements."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    lines = text.splitlines(keepends=True)
    out = []
    for node in ast.walk(tree):
        for field in ("body", "orelse"):
            body = getattr(node, field, None)
            if not isinstance(body, list) or len(body) < 2 or isinstance(node, ast.Module):
                continue
            for stmt in body:
                simple = isinstance(stmt, ast.Return | ast.Assign | ast.AugAssign | ast.Expr)
                if simple and not _is_docstring(stmt) and stmt.lineno == stmt.end_lineno:
                    mutated = "".join(lines[: stmt.lineno - 1] + lines[stmt.lineno :])
                    if _parses(mutated):
                        out.append(mutated)
    return out


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True
