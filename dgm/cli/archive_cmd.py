"""`dgm tree`, `dgm show`, `dgm diff`, `dgm export`: browse a run's archive; `dgm approve` and
`dgm reject`: a person's decision on a quarantined node (safe while the run is live: one
SQLite transaction, which the running loop reads before its next decision)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from archive import Archive, ArchiveError, Stats
from dgm.views.api import evaluation_tests, tests_summary

RUNS_DIR = Path("runs")
STATUS_STYLE = {"valid": "green", "invalid": "red", "pending": "yellow"}
QUARANTINE_STYLE = {"quarantined": "red", "waiting": "yellow", "rejected": "red",
                    "approved": "green"}  # fmt: skip
SORTS = ("id", "score", "clade")


def register(app: typer.Typer) -> None:
    """Add the archive browsing commands to the dgm app."""
    app.command("tree")(tree)
    app.command("show")(show)
    app.command("diff")(diff)
    app.command("export")(export)
    app.command("approve")(approve)
    app.command("reject")(reject)


def open_archive(run: str) -> Archive:
    """A run by path, or by name under runs/; anything else is a one-line ArchiveError."""
    path = Path(run)
    if not path.exists() and not path.is_absolute() and (RUNS_DIR / run).exists():
        path = RUNS_DIR / run
    if not path.exists():
        raise ArchiveError(f"no run '{run}' (neither a path nor a name under {RUNS_DIR}/)")
    return Archive.open(path)


def _score(s: Stats) -> str:
    return f"{s.successes}/{s.trials}" + (f" {s.rate:.2f}" if s.trials else "")


def _tampering(s: Stats) -> str:
    """Tampered evaluations and the tamper rate (tampered / evaluations)."""
    if not s.trials:
        return "-"
    return f"{s.tampered} of {s.trials} evaluations (tamper rate {s.tamper_rate:.2f})"


def _label(node, own: Stats, clade: Stats, diffstat) -> list[tuple[str, str]]:
    """One node's line as (text, style) pieces."""
    parts = [
        (f"{node.id}", "bold"),
        (f"  own {_score(own)}", "cyan"),
        (f"  clade {_score(clade)}", "magenta"),
        (f"  {node.status}", STATUS_STYLE.get(node.status, "")),
    ]
    if own.tampered:
        parts.append((f"  tampered {own.tampered}", "red"))
    if node.quarantine:
        parts.append((f"  {node.quarantine}", QUARANTINE_STYLE.get(node.quarantine, "")))
    if clade.bad_nodes - own.bad_nodes:
        parts.append((f"  bad below {clade.bad_nodes - own.bad_nodes}", "dim"))
    if node.entry:
        parts.append((f"  {node.entry[:40]}", "dim"))
    if diffstat and node.parent is not None:
        files, added, removed = diffstat
        parts += [(f"  {files}f ", "dim"), (f"+{added}", "green"), (f" -{removed}", "red")]
    return parts


def tree(
    run: str = typer.Argument(..., help="Run directory, or a run name under runs/."),
    depth: int = typer.Option(None, "--depth", help="Show at most this many levels."),
    min_evals: int = typer.Option(0, "--min-evals", help="Hide nodes with fewer own trials."),
    sort: str = typer.Option("id", "--sort", help="Order children by id, score or clade."),
) -> None:
    """The lineage as a tree: id, own score, clade score, status, tampered evaluations,
    quarantine, bad descendants (invalid or quarantined), entry, diff stat."""
    if sort not in SORTS:
        raise ArchiveError(f"--sort must be one of {', '.join(SORTS)}, not '{sort}'")
    archive = open_archive(run)
    nodes = {n.id: n for n in archive.nodes()}
    stats = archive.all_stats()
    diffstats = archive.diffstats()
    kids: dict[int, list[int]] = {n: [] for n in nodes}
    for n in nodes.values():
        if n.parent is not None:
            kids[n.parent].append(n.id)

    def key(n: int):
        own, clade = stats[n]
        rate = (own if sort == "score" else clade).rate
        return (0, n) if sort == "id" else (rate is None, -(rate or 0.0), n)

    # Which nodes pass --min-evals themselves or through a descendant (ids grow downward).
    keep = {n: stats[n][0].trials >= min_evals for n in nodes}
    for n in sorted(nodes, reverse=True):
        if keep[n] and nodes[n].parent is not None:
            keep[nodes[n].parent] = True
    lines: list[list[tuple[str, str]]] = []
    # Depth-first with an explicit stack (no recursion limit): (node, guide prefix, last?, level)
    stack: list[tuple[int, str, bool, int]] = [(0, "", True, 0)]
    while stack:
        n, prefix, last, level = stack.pop()
        guide = prefix + ("" if n == 0 else "└── " if last else "├── ")
        lines.append([(guide, ""), *_label(nodes[n], *stats[n], diffstats.get(n))])
        inner = prefix + ("" if n == 0 else "    " if last else "│   ")
        shown = [c for c in sorted(kids[n], key=key) if keep[c]]
        if depth is not None and level >= depth:
            if shown:
                lines.append([(f"{inner}└── ... {len(shown)} more children", "dim")])
            continue
        # Reversed so that the stack pops the children in order.
        stack.extend(
            (c, inner, i == len(shown) - 1, level + 1) for i, c in reversed(list(enumerate(shown)))
        )
    console = Console()
    if console.is_terminal:
        console.print(Text("\n").join(Text.assemble(*line) for line in lines), soft_wrap=True)
    else:  # a file or pipe: plain text, written directly (Rich's layout is slow at 10,000 lines)
        sys.stdout.write("".join("".join(t for t, _ in line) + "\n" for line in lines))


def show(
    run: str = typer.Argument(..., help="Run directory, or a run name under runs/."),
    node: int = typer.Argument(..., help="Node id."),
) -> None:
    """Everything known about one node."""
    archive = open_archive(run)
    n = archive.node(node)
    own, clade = archive.own_stats(node), archive.clade_stats(node)
    calls, tokens, cost = archive.fm_totals(node)
    files, added, removed = archive.diffstats().get(node, (0, 0, 0))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("node", str(n.id))
    facts.add_row("commit", n.commit)
    facts.add_row("parent", "-" if n.parent is None else str(n.parent))
    facts.add_row("children", ", ".join(map(str, archive.children(node))) or "-")
    facts.add_row("lineage", " -> ".join(map(str, archive.lineage(node))))
    facts.add_row("created", datetime.fromtimestamp(n.created).isoformat(timespec="seconds"))
    facts.add_row("status", Text(n.status, style=STATUS_STYLE.get(n.status, "")))
    facts.add_row("reason", n.reason or "-")
    facts.add_row("quarantine", _quarantine_text(n.id, n.quarantine, run))
    facts.add_row("entry", n.entry or "-")
    facts.add_row("change", f"{files} files, +{added} -{removed} against the parent")
    facts.add_row("own score", _score(own))
    facts.add_row("clade score", _score(clade))
    facts.add_row("tampered", _tampering(own))
    below = clade.bad_nodes - own.bad_nodes
    facts.add_row("clade tampered", f"{_tampering(clade)}; {below} invalid/quarantined below")
    guessed, guessed_cost = archive.fm_estimated(node)
    estimate = f" (${guessed_cost:.4f} estimated: {guessed} replies without usage)" * bool(guessed)
    facts.add_row("FM", f"{calls} calls, {tokens} tokens, ${cost:.4f}{estimate}")
    console = Console()
    console.print(Panel(facts, title=f"node {n.id}", expand=False))
    if n.problem_statement:
        console.print(Panel(Text(n.problem_statement), title="problem statement"))
    if n.meta:
        meta = json.dumps(n.meta, indent=2, sort_keys=True, default=str)
        console.print(Panel(Text(meta), title="meta"))
    evals = archive.evaluations(node)
    table = Table(title=f"evaluations ({len(evals)})")
    for col in ("id", "benchmark", "task", "outcome", "tests", "tokens", "cost", "seconds", "log"):
        table.add_column(col)
    failing: list[str] = []
    for e in evals:
        style = "green" if e.outcome == "resolved" else "red"
        tests = evaluation_tests(archive.run_dir.resolve(), e.log_path)
        failing += [f"{e.task}: {t} {s}" for t, s in tests.items() if s != "pass"]
        table.add_row(
            str(e.id), e.benchmark, e.task, Text(e.outcome, style=style), tests_summary(tests),
            str(e.tokens), f"{e.cost:.4f}", f"{e.seconds:.1f}", e.log_path or "-",
        )  # fmt: skip
    console.print(table)
    if failing:  # the hidden tests that did not pass, as the grader reported them
        more = f"\n  ... {len(failing) - 20} more" if len(failing) > 20 else ""
        console.print(Text("tests not passed:\n  " + "\n  ".join(failing[:20]) + more))
    for e in evals:  # the grader's evidence, one line each, for every tampered evaluation
        if e.outcome == "tampered":
            console.print(Text(f"tampered {e.task} (evaluation {e.id}): {e.reason or '-'}",
                               style="red"), soft_wrap=True)  # fmt: skip


def _quarantine_text(node: int, state: str | None, run: str) -> Text:
    if state is None:
        return Text("-")
    hint = {
        "quarantined": f" (a tampered evaluation; `dgm approve {run} {node}` makes it a parent"
        " again)",
        "waiting": f" for a decision: `dgm approve {run} {node}` or `dgm reject {run} {node}`",
        "approved": " (by a person: a parent again)",
        "rejected": " (by a person: never a parent)",
    }[state]
    return Text(state + hint, style=QUARANTINE_STYLE.get(state, ""))


def approve(
    run: str = typer.Argument(..., help="Run directory, or a run name under runs/."),
    node: int = typer.Argument(..., help="The quarantined node."),
    note: str = typer.Option(None, "--note", help="Why (kept in the event)."),
) -> None:
    """Let a quarantined node be a parent again (works while the run is live)."""
    archive = open_archive(run)
    archive.approve(node, note=note)
    print(f"approved node {node}: it can be a parent again (a live run picks this up before"
          " its next decision)")  # fmt: skip


def reject(
    run: str = typer.Argument(..., help="Run directory, or a run name under runs/."),
    node: int = typer.Argument(..., help="The quarantined node."),
    note: str = typer.Option(None, "--note", help="Why (kept in the event)."),
) -> None:
    """Keep a quarantined node out for good: never a parent (works while the run is live)."""
    archive = open_archive(run)
    archive.reject(node, note=note)
    print(f"rejected node {node}: it stays out of the parents")


def diff(
    run: str = typer.Argument(..., help="Run directory, or a run name under runs/."),
    a: int = typer.Argument(..., help="The old node."),
    b: int = typer.Argument(..., help="The new node."),
    stat: bool = typer.Option(False, "--stat", help="Per-file counts only."),
) -> None:
    """The unified diff from node A to node B."""
    archive = open_archive(run)
    d = archive.diff(a, b)
    console = Console()
    if stat:
        table = Table(title=f"node {a} -> node {b}")
        table.add_column("file")
        table.add_column("+", style="green", justify="right")
        table.add_column("-", style="red", justify="right")
        for path, added, removed in d.files:
            table.add_row(path, str(added), str(removed))
        table.add_row(Text(f"{len(d.files)} files", style="bold"), str(d.added), str(d.removed))
        console.print(table)
        return
    text = Text()
    for line in d.text.splitlines():
        if line.startswith(("+++", "---", "diff --git", "index ")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        else:
            style = ""
        text.append(line + "\n", style=style)
    console.print(text, end="", highlight=False, soft_wrap=True)


def export(
    run: str = typer.Argument(..., help="Run directory, or a run name under runs/."),
    node: int = typer.Argument(None, help="Node id (with DEST: export its source)."),
    dest: Path = typer.Argument(None, help="A new (or empty) directory for the agent's source."),
    graph: Path = typer.Option(
        None,
        "--graph",
        metavar="FILE",
        help="Write the whole lineage instead: FILE.graphml (GraphML) or FILE.json (JSON "
        "node-link), every node with its scores, status and commit, every edge parent->child.",
    ),
) -> None:
    """Write one agent's source into a directory (RUN NODE DEST), or the lineage as a graph
    file for Gephi, Cytoscape or networkx (RUN --graph FILE)."""
    if graph is not None:
        if node is not None or dest is not None:
            raise ArchiveError("give either NODE DEST (an agent's source) or --graph FILE")
        _export_graph(run, graph)
        return
    if node is None or dest is None:
        raise ArchiveError("give NODE DEST (an agent's source) or --graph FILE (the lineage)")
    archive = open_archive(run)
    commit = archive.node(node).commit
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ArchiveError(f"'{dest}' exists and is not an empty directory")
    archive.materialize(node, dest)
    Console().print(f"exported node {node} ({commit[:12]}) to {dest}")


def _export_graph(run: str, path: Path) -> None:
    from dgm.views.graph import graph_format, lineage_graph, write_graph

    graph_format(path)  # a wrong suffix fails before any work
    if path.is_dir():
        raise ArchiveError(f"'{path}' is a directory; --graph needs a file")
    archive = open_archive(run)
    graph = lineage_graph(archive, archive.run_dir.resolve().name)
    fmt = write_graph(graph, path)
    Console().print(f"exported {graph.number_of_nodes()} nodes and {graph.number_of_edges()} "
                    f"edges ({fmt}) to {path}", highlight=False)  # fmt: skip
