"""`dgm runs` and `dgm status`: what each run is doing and how far it got."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.table import Table

from dgm.run.rundir import RunDir, RunLock
from dgm.views.data import Snapshot


@dataclass
class RunSummary:
    """The figures of one run, read from its archive and lock file."""

    name: str
    status: str
    policy: str = "?"
    benchmark: str = "?"
    model: str = "?"
    nodes: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    evaluations: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    final: int | None = None  # the final agent (`dgm.policies.final`)
    final_score: tuple[int, int] = (0, 0)
    cost: float = 0.0
    fm_calls: int = 0
    estimated: tuple[int, float] = (0, 0.0)  # FM calls and cost counted without usage
    provider: str | None = None  # "provider failing since ..." while the run pauses
    finished: dict[str, Any] | None = None
    budget: dict[str, Any] = field(default_factory=dict)
    tampered: int = 0
    quarantine_mode: str = "?"
    quarantined: dict[int, str] = field(default_factory=dict)  # node -> state
    node_tampering: dict[int, tuple[int, int]] = field(default_factory=dict)  # (tampered, n)

    @property
    def tamper_rate(self) -> float | None:
        """Tampered / evaluations, None before any evaluation."""
        return self.tampered / self.evaluations if self.evaluations else None

    @property
    def tamper_text(self) -> str:
        if not self.evaluations:
            return "-"
        return f"{self.tampered} ({self.tamper_rate:.2f})"

    def waiting(self) -> list[int]:
        return [n for n, state in sorted(self.quarantined.items()) if state == "waiting"]

    @property
    def final_text(self) -> str:
        """The final agent (the node the run's summary names) and its own score."""
        if self.final is None:
            return "-"
        s, n = self.final_score
        return f"{s / n:.2f} ({s}/{n}, node {self.final})" if n else f"- (node {self.final})"


def run_state(run: RunDir, archive: Any | None) -> tuple[str, dict[str, Any] | None]:
    """finished / running (pid) / stopped, from the archive state and the run lock."""
    finished = archive.get_state("finished") if archive is not None else None
    if finished:
        return "finished", finished
    holder = RunLock(run).holder()
    if holder is not None:
        return (f"running (pid {holder})" if holder > 0 else "running"), None
    return ("stopped" if archive is not None else "empty"), None


def summarise_run(run: RunDir) -> RunSummary:
    from archive import Archive, ArchiveError

    try:
        archive = Archive.open(run.root)
    except ArchiveError:
        archive = None
    status, finished = run_state(run, archive)
    summary = RunSummary(run.run_id, status, finished=finished)
    try:
        config = run.load_config()
        summary.policy, summary.benchmark, summary.model = (
            config.policy, config.benchmark, config.model,
        )  # fmt: skip
        summary.budget = config.budget.model_dump(exclude_none=True)
    except Exception:  # noqa: BLE001 - a damaged config still lists the run
        pass
    if archive is None:
        return summary
    snap = Snapshot.from_archive(archive)
    summary.nodes = len(snap.nodes)
    summary.statuses = dict(Counter(r.status for r in snap.nodes.values()))
    summary.evaluations = len(snap.evaluations)
    summary.outcomes = dict(Counter(str(e.outcome) for e in snap.evaluations))
    summary.tampered = summary.outcomes.get("tampered", 0)
    summary.quarantine_mode = archive.quarantine_mode
    summary.quarantined = {i: snap.nodes[i].quarantine for i in snap.quarantined()}
    summary.node_tampering = {
        i: (r.tampered, r.trials) for i, r in snap.nodes.items() if r.tampered
    }
    summary.final = snap.final_agent()
    if summary.final is not None:
        row = snap.nodes[summary.final]
        summary.final_score = (row.successes, row.trials)
    summary.fm_calls, _, summary.cost = archive.fm_totals()
    summary.estimated = archive.fm_estimated()
    summary.provider = (archive.get_state("provider") or {}).get("status")
    return summary


def runs_table(summaries: list[RunSummary]) -> Table:
    table = Table(title="Runs", title_justify="left")
    for col in ("run", "status", "policy", "benchmark", "model", "nodes", "evals"):
        table.add_column(col, justify="right" if col in ("nodes", "evals") else "left")
    table.add_column("tampered (rate)", justify="right")
    table.add_column("final agent (resolved rate)")
    table.add_column("FM cost", justify="right")
    for s in summaries:
        colour = {"finished": "green", "stopped": "yellow"}.get(s.status, "cyan")
        table.add_row(
            s.name, f"[{colour}]{s.status}[/{colour}]", s.policy, s.benchmark, s.model,
            str(s.nodes), str(s.evaluations), s.tamper_text, s.final_text, f"${s.cost:.4f}",
        )  # fmt: skip
    return table


def status_view(s: RunSummary) -> Group:
    """One run's summary as Rich renderables."""
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("run", s.name)
    facts.add_row("status", s.status)
    if s.finished:
        facts.add_row("stopped because", str(s.finished.get("reason", "?")))
    facts.add_row("policy / benchmark", f"{s.policy} / {s.benchmark}")
    facts.add_row("model", s.model)
    by_status = ", ".join(f"{n} {k}" for k, n in sorted(s.statuses.items()))
    facts.add_row("nodes", f"{s.nodes} ({by_status})" if by_status else str(s.nodes))
    by_outcome = ", ".join(f"{n} {k}" for k, n in sorted(s.outcomes.items()))
    evals = f"{s.evaluations} ({by_outcome})" if by_outcome else str(s.evaluations)
    finals = (s.finished or {}).get("final_evals", 0)
    if "evals" in s.budget:
        evals += f" of a budget of {s.budget['evals']}"
    if finals:  # the final evaluation is not counted against the budget: say so
        evals += f", {finals} of them final evaluations beyond the budget"
    facts.add_row("evaluations", evals)
    facts.add_row("tampered", _tamper_line(s))
    for line in _quarantine_lines(s):
        facts.add_row(*line)
    chosen = "recorded when the run finished" if s.finished else "the policy's choice so far"
    facts.add_row("final agent", f"{s.final_text}, {chosen}" if s.final is not None else "-")
    dollars = f" of ${s.budget['dollars']:.2f}" if "dollars" in s.budget else ""
    guessed, guessed_cost = s.estimated
    if guessed:  # replies without usage: counted by litellm's tokenizer
        dollars += f" (${guessed_cost:.4f} of it estimated, {guessed} calls)"
    facts.add_row("FM cost", f"${s.cost:.4f}{dollars} in {s.fm_calls} calls")
    if s.provider:
        facts.add_row("provider", f"[yellow]{s.provider}[/yellow]")
    return Group(facts)


def _tamper_line(s: RunSummary) -> str:
    """The run's tamper count and rate, then each tampering node's own."""
    if not s.evaluations:
        return "-"
    text = f"{s.tampered} of {s.evaluations} evaluations (tamper rate {s.tamper_rate:.2f})"
    # the highest tamper rates first, at most ten: a long run may have many
    ranked = sorted(s.node_tampering.items(), key=lambda kv: (-kv[1][0] / kv[1][1], kv[0]))
    per_node = [f"node {i} {t}/{n} ({t / n:.2f})" for i, (t, n) in ranked[:10]]
    if len(ranked) > 10:
        per_node.append(f"{len(ranked) - 10} more nodes (`dgm show`)")
    return text + ("; " + ", ".join(per_node) if per_node else "")


def _quarantine_lines(s: RunSummary) -> list[tuple[str, str]]:
    """Quarantine mode, the nodes held, and what waits for a person's decision."""
    lines = [("quarantine", s.quarantine_mode)]
    by_state: dict[str, list[int]] = {}
    for node, state in sorted(s.quarantined.items()):
        by_state.setdefault(state, []).append(node)
    for state in ("quarantined", "rejected", "approved"):
        if state in by_state:
            lines.append((f"  {state}", ", ".join(f"node {n}" for n in by_state[state])))
    waiting = s.waiting()
    if waiting:
        run = s.name
        lines.append(("[yellow]waiting for a decision[/yellow]", ", ".join(
            f"node {n} (`dgm approve {run} {n}` or `dgm reject {run} {n}`)" for n in waiting
        )))  # fmt: skip
    return lines
