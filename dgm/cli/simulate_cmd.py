"""`dgm simulate`: compare selection policies on synthetic self-improvement landscapes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from dgm.policysim.landscape import FAMILIES

console = Console()


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)


def _count(text: str, what: str, minimum: int = 1) -> int:
    """A whole number from the command line, or a one-line error (exit code 2)."""
    from dgm.policysim import SimulateError

    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise SimulateError(f"{what} must be {kind}, got '{text}'")
    return value


def _params(items: list[str]) -> dict[str, dict[str, str]]:
    """`hgm.alpha=0.5` -> {"hgm": {"alpha": "0.5"}} (the policy coerces the value)."""
    from dgm.policysim import SimulateError

    out: dict[str, dict[str, str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        name, dot, param = key.partition(".")
        if not sep or not dot or not param:
            raise SimulateError(f"--param wants POLICY.NAME=VALUE, got '{item}'")
        out.setdefault(name.strip(), {})[param.strip()] = value.strip()
    return out


def simulate(
    policies: str = typer.Option(
        "dgm,hgm,greedy,random,latest",
        metavar="LIST",
        help="Comma-separated policy names; NAME:LABEL runs a policy again under its own "
        "--param values (e.g. hgm,hgm:raw --param hgm:raw.invalid_child_failures=0).",
    ),
    landscape: str = typer.Option(
        "mismatch", metavar="NAME", help=f"One of: {', '.join(FAMILIES)}."
    ),
    budget: str = typer.Option("800", metavar="N", help="Evaluation units per run."),
    seeds: str = typer.Option(
        "200", metavar="N", help="Seeded landscapes (every policy meets each)."
    ),
    first_seed: str = typer.Option("0", "--first-seed", metavar="N", help="The first seed."),
    tasks: str = typer.Option("60", metavar="N", help="Tasks in the simulated benchmark."),
    expand_cost: str = typer.Option(
        "1", "--expand-cost", metavar="N", help="Units one expansion costs."
    ),
    param: list[str] = typer.Option(
        [],
        "--param",
        metavar="POLICY.NAME=VALUE",
        help="A policy parameter, e.g. hgm.alpha=0.5 (repeatable).",
    ),
    jobs: str = typer.Option(str(os.cpu_count() or 1), metavar="N", help="Worker processes."),
    plot: Path = typer.Option(
        None, "--plot", metavar="FILE.png", help="Write a PNG of quality against budget."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON only."),
) -> None:
    """Compare selection policies on the same seeded synthetic landscapes.

    Prints the true solve rate of the agents each policy picks (the landscapes are
    synthetic, not real agents)."""
    from dgm.policysim import SimConfig, SimulateError, report, run_all

    names = [p.strip() for p in policies.split(",") if p.strip()]
    cfg = SimConfig(
        policies=names,
        landscape=landscape,
        budget=_count(budget, "budget"),
        seeds=_count(seeds, "seeds"),
        first_seed=_count(first_seed, "first seed", minimum=0),
        n_tasks=_count(tasks, "tasks"),
        expand_cost=_count(expand_cost, "expand cost", minimum=0),
        params=_params(param),
    )
    cfg.check()
    n_jobs = _count(jobs, "jobs")
    if plot is not None and plot.suffix.lower() != ".png":
        raise SimulateError(f"--plot wants a .png file, got '{plot}'")
    if as_json:
        results = run_all(cfg, jobs=n_jobs)
    else:
        columns = ("[progress.description]{task.description}", BarColumn(),
                   MofNCompleteColumn(), TimeElapsedColumn())  # fmt: skip
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("seeds", total=cfg.seeds)
            results = run_all(cfg, jobs=n_jobs, progress=lambda: bar.advance(task))
    summary = report.summarise(cfg, results)
    if plot is not None:
        try:
            report.plot(summary, plot)
        except OSError as exc:
            raise SimulateError(f"cannot write {plot}: {exc.strerror or exc}") from None
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    console.print(report.table(summary))
    lines = report.paired_lines(summary)
    if lines:
        console.print("paired over the same landscapes: " + "; ".join(lines), highlight=False)
    console.print(
        "[dim]final: true solve rate of the policy's final agent (mean over seeds, 95 % "
        "interval of the mean); regret: against the best node in its own tree; reach: regret "
        "against the best node any policy found on the same landscape; invalid: the "
        "share of expansions whose child was invalid; wall s: summed over seeds.[/dim]"
    )
    if plot is not None:
        console.print(f"plot written to {plot}")
