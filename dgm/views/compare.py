"""`dgm compare RUN A B`: two agents side by side: shared tasks, their diff, their lineage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from dgm.views.api import evaluation_tests
from dgm.views.data import Snapshot

OUTCOME_STYLE = {"resolved": "green", "unresolved": "red", "empty": "yellow", "error": "magenta",
                 "tampered": "bold red"}  # fmt: skip
TEST_STYLE = {"pass": "green", "fail": "red", "error": "magenta", "missing": "yellow"}


@dataclass
class Comparison:
    """What `compare` shows, computed without any rendering."""

    a: int
    b: int
    shared: list[tuple[str, list[str], list[str]]]  # task, outcomes of a, outcomes of b
    path: list[int]  # a .. ancestor .. b
    ancestor: int
    diff_text: str
    diff_files: list[tuple[str, int, int]]
    tests: list[tuple[str, str, str, str]] = field(default_factory=list)
    """Hidden tests whose latest results differ: task, test, status for a, status for b."""


def compare_nodes(archive: Any, snap: Snapshot, a: int, b: int) -> Comparison:
    snap.node(a), snap.node(b)  # unknown ids fail here, in one line
    out_a, out_b = snap.outcomes_by_task(a), snap.outcomes_by_task(b)
    shared = [(t, out_a[t], out_b[t]) for t in sorted(out_a) if t in out_b]
    path, ancestor = snap.joining_path(a, b)
    diff = archive.diff(a, b)
    tests = _differing_tests(archive, a, b, {t for t, _, _ in shared})
    return Comparison(a, b, shared, path, ancestor, diff.text, list(diff.files), tests)


def _differing_tests(archive: Any, a: int, b: int, tasks: set[str]) -> list[tuple[str, ...]]:
    """Per shared task, the tests whose latest reported status differs between a and b."""
    root = archive.run_dir.resolve()
    latest: dict[int, dict[str, dict[str, str]]] = {a: {}, b: {}}
    for node in (a, b):
        for e in archive.evaluations(node):
            if e.task in tasks:
                latest[node][e.task] = evaluation_tests(root, e.log_path)
    rows = []
    for task in sorted(tasks):
        ta, tb = latest[a].get(task, {}), latest[b].get(task, {})
        for test in sorted(set(ta) | set(tb)):
            if ta.get(test) != tb.get(test):
                rows.append((task, test, ta.get(test, "-"), tb.get(test, "-")))
    return rows


def _outcomes(outcomes: list[str]) -> Text:
    text = Text()
    for o in outcomes:
        text.append(o + " ", style=OUTCOME_STYLE.get(o, ""))
    return text


def comparison_view(c: Comparison, snap: Snapshot) -> list[RenderableType]:
    parts: list[RenderableType] = []
    table = Table(title=f"Tasks both evaluated: node {c.a} vs node {c.b}", title_justify="left")
    table.add_column("task")
    table.add_column(f"node {c.a}")
    table.add_column(f"node {c.b}")
    wins = [0, 0]
    for task, oa, ob in c.shared:
        table.add_row(task, _outcomes(oa), _outcomes(ob))
        wins[0] += oa.count("resolved")
        wins[1] += ob.count("resolved")
    if c.shared:
        tries_a = sum(len(oa) for _, oa, _ in c.shared)
        tries_b = sum(len(ob) for _, _, ob in c.shared)
        table.add_section()
        table.add_row("resolved", f"{wins[0]}/{tries_a}", f"{wins[1]}/{tries_b}")
        parts.append(table)
    else:
        parts.append(Text(f"No task was evaluated on both node {c.a} and node {c.b}."))
    if c.tests:
        tests = Table(title="Hidden tests that differ (latest evaluation of each task)",
                      title_justify="left")  # fmt: skip
        for col in ("task", "test", f"node {c.a}", f"node {c.b}"):
            tests.add_column(col)
        for task, test, sa, sb in c.tests[:50]:
            tests.add_row(task, test, Text(sa, style=TEST_STYLE.get(sa, "")),
                          Text(sb, style=TEST_STYLE.get(sb, "")))  # fmt: skip
        parts.append(tests)
    parts.append(Text("\nTampered (all evaluations): " + "; ".join(
        f"node {n} {_tamper_text(snap.nodes[n])}" for n in (c.a, c.b)
    )))  # fmt: skip

    steps = []
    for node_id in c.path:
        row = snap.nodes[node_id]
        score = f"{row.successes}/{row.trials}" if row.trials else "-"
        mark = " (common ancestor)" if node_id == c.ancestor else ""
        extra = f", tampered {row.tampered}" if row.tampered else ""
        extra += f", {row.quarantine}" if row.quarantine else ""
        steps.append(f"{node_id} [{row.status}, {score}{extra}]{mark}")
    parts.append(Text("\nLineage path: " + "  ->  ".join(steps)))

    files = ", ".join(f"{p} +{add} -{rem}" for p, add, rem in c.diff_files) or "no changes"
    parts.append(Text(f"\nDiff node {c.a} -> node {c.b}: {files}"))
    if c.diff_text:
        parts.append(Syntax(c.diff_text, "diff", theme="ansi_dark", word_wrap=True))
    return parts


def _tamper_text(row) -> str:
    """Tampered / evaluations, the tamper rate and the quarantine state of one node."""
    if not row.trials:
        return "not evaluated"
    text = f"{row.tampered}/{row.trials} (tamper rate {row.tamper_rate:.2f})"
    return text + (f", {row.quarantine}" if row.quarantine else "")


def render_comparison(c: Comparison, snap: Snapshot) -> Group:
    return Group(*comparison_view(c, snap))
