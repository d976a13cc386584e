"""Test ids read from test source without running it (the host's list of what a grading must
report). unittest ids are `module.Class.method`, as `unittest.TestCase.id()` gives them."""

from __future__ import annotations

import ast
from collections.abc import Mapping


def module_name(rel: str) -> str:
    """`tests_hidden/test_x.py` -> `tests_hidden.test_x`."""
    name = rel[: -len(".py")] if rel.endswith(".py") else rel
    return name.replace("/", ".")


def unittest_ids(sources: Mapping[str, str], prefix: str = "test") -> tuple[str, ...]:
    """Every `test*` method of every TestCase class in the given test files (relative path
    -> source), including methods a class inherits from a test class of the same file.
    A class counts as a test class when a base is named `...TestCase` or is a test class of
    the same file. A file that does not parse contributes nothing (its tests cannot run)."""
    ids: list[str] = []
    for rel, source in sorted(sources.items()):
        if not rel.endswith(".py"):
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        classes: dict[str, list[str]] = {}
        for node in tree.body:
            if not isinstance(node, ast.ClassDef):
                continue
            bases = [_base_name(b) for b in node.bases]
            inherited = [m for b in bases if b in classes for m in classes[b]]
            if not inherited and not any(b.endswith("TestCase") for b in bases):
                continue
            own = [
                item.name
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                and item.name.startswith(prefix)
            ]
            classes[node.name] = list(dict.fromkeys(inherited + own))
        module = module_name(rel)
        ids.extend(f"{module}.{cls}.{m}" for cls, methods in classes.items() for m in methods)
    return tuple(ids)


def _base_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""
