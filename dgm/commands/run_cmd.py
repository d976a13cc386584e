"""`dgm run`: start or resume an evolution run."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from dgm.config import RunConfig

console = Console()


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def run(
    config: Path = typer.Option(None, "--config", "-c", help="A run.toml file."),
    resume: str = typer.Option(None, "--resume", help="Continue this run (name or path)."),
    benchmark: str = typer.Option(None, help="humaneval, bugfix or polyglot."),
    subset: str = typer.Option(None, help="small, medium or full."),
    policy: str = typer.Option(None, help="hgm, dgm, greedy, random or latest."),
    model: str = typer.Option(None, help="A litellm model name; `sim` is the offline simulator."),
    api_base: str = typer.Option(None, "--api-base", help="OpenAI-compatible base URL."),
    workers: int = typer.Option(None, help="Concurrent sandbox workers."),
    budget_evals: int = typer.Option(None, "--budget-evals", help="Task evaluations."),
    budget_expansions: int = typer.Option(None, "--budget-expansions", help="Expansions."),
    budget_dollars: float = typer.Option(None, "--budget-dollars", help="FM dollars."),
    budget_seconds: float = typer.Option(None, "--budget-seconds", help="Wall seconds."),
    seed: int = typer.Option(None, help="Seeds the policy, entries and the sim model."),
    meta: str = typer.Option(None, help="fixed (loop diagnoses) or agent (hyperagent)."),
    name: str = typer.Option(None, help="Run name (directory under runs/)."),
    runs_dir: Path = typer.Option(None, "--runs-dir", help="Where runs live (default runs/)."),
) -> None:
    """Grow a tree of self-modifying agents (with no options: a short demo run).

    The demo uses the offline `sim` model on HumanEval's small subset with the hgm policy
    and 2 workers, and takes a few minutes."""
    from dgm import runner

    if resume:
        summary = runner.resume(resume, console, runs_dir or Path("runs"))
    else:
        cfg = RunConfig.load(
            config,
            benchmark=benchmark,
            subset=subset,
            policy=policy,
            model=model,
            api_base=api_base,
            workers=workers,
            seed=seed,
            meta=meta,
            name=name,
            runs_dir=runs_dir,
            **{
                "budget.evals": budget_evals,
                "budget.expansions": budget_expansions,
                "budget.dollars": budget_dollars,
                "budget.wall_seconds": budget_seconds,
            },
        )
        summary = runner.start(cfg, console)
    report(summary)


def report(s) -> None:
    root = s.run.root
    console.print(f"\n[bold]Run finished[/bold]: {s.reason}")
    console.print(f"  run directory   {root}")
    console.print(f"  nodes           {s.nodes} ({s.invalid} invalid)")
    fake = " (sim's fake price)" if s.run.load_config().model == "sim" else ""
    console.print(f"  evaluations     {s.evaluations}   FM cost ${s.cost:.4f}{fake}")
    rows = (("best agent", s.final, s.final_score), ("seed agent", 0, s.seed_score))
    for label, node, (k, n) in rows:
        partial = f" (tried {n} of the subset's {s.subset_size})" if n < s.subset_size else ""
        console.print(f"  {label:<15} node {node}: {k}/{n} resolved{partial}")
    console.print("\nBrowse it:")
    for cmd in (
        f"dgm tree {root}",
        f"dgm show {root} {s.final}",
        f"dgm diff {root} 0 {s.final}",
        f"dgm export {root} {s.final} ./best-agent",
        f"dgm plot {root} --out {root}/plots",
        f"dgm serve {root}",
    ):
        console.print(f"  .venv/bin/{cmd}")
