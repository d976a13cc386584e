"""The Rich live view of a run: nodes, best score, budget use, cost, work in flight."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from dgm.policies import INVALID, QUARANTINED, Policy, final_agent, make_policy


class LiveView:
    """Told by the scheduler when jobs start and finish; redraws a small dashboard."""

    def __init__(self, console: Console, run_name: str, config, archive, tree, gateway,
                 policy: Policy | None = None):  # fmt: skip
        self.console, self.run_name, self.config = console, run_name, config
        self.archive, self.tree, self.gateway = archive, tree, gateway
        # The run's policy names the final agent; one built from the config names the same
        # node (a final agent depends on the tree and the parameters, not on the RNG).
        self.policy = policy or make_policy(
            config.policy, config.seed, tasks=tree.tasks, **config.policy_params
        )
        self.events: deque[str] = deque(maxlen=8)
        self.in_flight: dict[int, str] = {}
        self.started_at = time.monotonic()
        self._lock = threading.Lock()
        self._live = Live(console=console, refresh_per_second=4, get_renderable=self.render)

    def __enter__(self) -> LiveView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._live.__exit__(*exc)

    def note(self, text: str) -> None:
        with self._lock:
            self.events.append(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {text}")

    def started(self, job) -> None:
        what = f"expand {job.node}" if job.kind == "expand" else f"eval {job.node} on {job.task}"
        with self._lock:
            self.in_flight[id(job)] = what

    def finished(self, job, result) -> None:
        with self._lock:
            self.in_flight.pop(id(job), None)
        if job.kind == "expand":
            verdict = "valid" if result.valid else f"[red]invalid[/red]: {result.reason}"
            self.note(f"expansion {result.index} of node {job.node} ({result.entry}): {verdict}")
        else:
            r = result.result
            colour = {"resolved": "green", "error": "red", "tampered": "bold red"}.get(
                str(r.outcome), "yellow"
            )
            self.note(f"node {job.node} on {job.task}: [{colour}]{r.outcome}[/{colour}]")

    def render(self) -> Panel:
        t = self.tree
        b = self.config.budget
        stats = Table.grid(padding=(0, 2))
        stats.add_column(style="bold")
        stats.add_column()
        n = t.n_nodes
        invalid = int((t.status[:n] == INVALID).sum())
        held = int((t.status[:n] == QUARANTINED).sum())
        stats.add_row(
            "nodes", f"{n} ({invalid} invalid" + (f", {held} quarantined)" if held else ")")
        )
        stats.add_row("evaluations", f"{t.n_evals}" + (f" / {b.evals}" if b.evals else ""))
        tampered, evals = self.archive.tamper_totals()
        if tampered:
            stats.add_row("tampered", f"[red]{tampered}[/red] (tamper rate {tampered / evals:.2f})")
        waiting = self.archive.waiting()
        if waiting:
            stats.add_row("waiting", "nodes " + ", ".join(map(str, waiting)) +
                          " (`dgm approve` / `dgm reject`)")  # fmt: skip
        final = final_agent(self.policy, t)
        s, trials = int(t.own_s[final]), int(t.own_n[final])
        stats.add_row("final agent (so far)", f"node {final}: {s}/{trials}" if trials else
                      f"node {final} (not evaluated yet)")  # fmt: skip
        _, _, cost = self.archive.fm_totals()
        dollars = f"${cost:.4f}" + (f" / ${b.dollars:.2f}" if b.dollars else "")
        if self.config.model.startswith("sim"):
            dollars += " (sim: fake price)"
        stats.add_row("FM cost", dollars)
        stats.add_row("elapsed", f"{time.monotonic() - self.started_at:.0f} s")
        with self._lock:
            flight = "\n".join(self.in_flight.values()) or "-"
            events = "\n".join(self.events) or "-"
        stats.add_row("in flight", flight)
        title = f"dgm run {self.run_name} · {self.config.policy} · {self.config.model}"
        return Panel(Group(stats, Panel(events, title="events", border_style="dim")), title=title)
