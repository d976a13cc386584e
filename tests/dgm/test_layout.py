"""The house rules, checked: imports run one way, no import cycle, no module over 400 lines.

Layers, lowest first: `errors`, `defaults`, `protocols` (leaves); `fm`, `policies`,
`policysim`, `executors`, `evolve`; `run`; `views`; `cli`. A package may import its own
layer or lower ones, never a higher one, and `archive`, `sandbox` and `benchmarks` never
import `dgm`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {
    "errors": 0, "defaults": 0, "protocols": 0, "seed_agent": 0,
    "fm": 1, "policies": 1, "policysim": 2, "executors": 2, "evolve": 2,
    "run": 3, "views": 4, "cli": 5, "__main__": 6, "__init__": 6,
}  # fmt: skip


def _modules() -> dict[str, Path]:
    found = {}
    for pkg in ("dgm", "archive", "sandbox", "benchmarks"):
        for path in (ROOT / pkg).rglob("*.py"):
            if "tasks" in path.parts or "tests" in path.relative_to(ROOT).parts[1:]:
                continue  # benchmark task data and the seed agent's own tests
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """Modules `path` imports: at import time only (top level), or anywhere (inside
    functions too); never what only a type checker reads (`if TYPE_CHECKING:`)."""
    names: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)
            elif not top_level_only or isinstance(node, ast.If | ast.Try):
                for field in ("body", "orelse", "finalbody", "handlers"):
                    visit([n for n in getattr(node, field, []) if isinstance(n, ast.AST)])

    visit(ast.parse(path.read_text()).body)
    return names


def _ancestor(package: str, module: str) -> bool:
    """A module imports its packages anyway: `from dgm.fm import faults` in dgm.fm.x is
    an edge to dgm.fm.faults, not to dgm.fm."""
    return module.startswith(package + ".")


def _graph(top_level_only: bool) -> nx.DiGraph:
    modules = _modules()
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        for target in _imports(path, top_level_only):
            if target in modules and target != name and not _ancestor(target, name):
                graph.add_edge(name, target)
    return graph


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "dgm":
        return None
    return LAYERS.get(parts[1], 6) if len(parts) > 1 else LAYERS["__init__"]


def test_no_import_cycle():
    graph = _graph(top_level_only=True)
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_imports_run_one_way():
    graph = _graph(top_level_only=False)
    wrong = []
    for a, b in graph.edges:
        outside = a.split(".")[0] != "dgm" and b.split(".")[0] == "dgm"
        if outside or None not in (_layer(a), _layer(b)) and _layer(b) > _layer(a):
            wrong.append(f"{a} -> {b}")
    assert not wrong, "imports against the layers:\n" + "\n".join(sorted(wrong))


@pytest.mark.parametrize("package", ["dgm", "archive", "sandbox", "benchmarks"])
def test_no_module_over_400_lines(package):
    long = {str(p.relative_to(ROOT)): n for name, p in _modules().items()
            if name.split(".")[0] == package
            and (n := len(p.read_text().splitlines())) > 400}  # fmt: skip
    assert not long, f"modules over 400 lines: {long}"
