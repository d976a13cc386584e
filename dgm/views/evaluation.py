"""Views of `dgm eval`: the progress bar while its evaluations run, the report at the end."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dgm.executors import Job, JobResult
from dgm.run.evaluation import Tracker

COLUMNS = (
    TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
    TextColumn("{task.fields[tally]}"), TimeElapsedColumn(),
)  # fmt: skip


class EvalProgress(Tracker):
    """A Rich progress bar over the pipeline's jobs: resolved, not, not recorded."""

    def __init__(self, console: Console, title: str, total: int):
        self.progress = Progress(*COLUMNS, console=console, transient=False)
        self.bar = self.progress.add_task(title, total=total, tally="")
        self.outcomes: Counter[str] = Counter()
        self.not_recorded = 0

    def __enter__(self) -> EvalProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def finished(self, job: Job, result: JobResult, value: Any) -> None:
        self.outcomes[str(value.outcome)] += 1
        self._update()

    def held(self, job: Job, reason: str) -> None:
        self.not_recorded += 1
        self._update()

    def lost(self, job: Job, result: JobResult) -> None:
        self.progress.console.print(f"queued again: {job.key} ({result.node}: {result.reason})")

    def _update(self) -> None:
        resolved, n = self.outcomes["resolved"], sum(self.outcomes.values())
        tally = f"resolved {resolved}  not {n - resolved}"
        if self.not_recorded:
            tally += f"  not recorded {self.not_recorded}"
        self.progress.update(self.bar, completed=n + self.not_recorded, tally=tally)


def eval_report(summary: Any, console: Console) -> None:
    """The resolved rate with counts, cost, time and where the logs are (an EvalSummary)."""
    counts, n = summary.counts, len(summary.results)
    rate = counts["resolved"] / n if n else 0.0
    console.print(
        f"\n[bold]{summary.benchmark}/{summary.subset}[/bold] with model {summary.model}: "
        f"[bold]{counts['resolved']}/{n} resolved ({rate:.0%})[/bold]"
    )
    parts = ", ".join(f"{k} {counts[k]}" for k in ("resolved", "unresolved", "empty", "error"))
    console.print(f"  outcomes   {parts}")
    console.print(f"  FM cost    ${summary.cost:.4f} ({summary.tokens} tokens)")
    per_min = n / summary.seconds * 60 if summary.seconds else 0.0
    console.print(f"  time       {summary.seconds:.1f} s ({per_min:.1f} evaluations/min)")
    console.print(f"  logs       {summary.out}/logs/<task>-0/ (transcript.md, grading.txt)")
    if summary.held:
        first = next(iter(summary.held.values()))
        console.print(
            f"  [yellow]not recorded[/yellow] {len(summary.held)} task(s): the model provider "
            f"failed, not the agent ({first[:200]})"
        )
