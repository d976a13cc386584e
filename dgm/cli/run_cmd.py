"""`dgm run`: start or resume an evolution run."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import typer
from rich.console import Console

from dgm.defaults import RUNS_DIR
from dgm.run.config import RunConfig

console = Console()


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def run(
    config: Path = typer.Option(None, "--config", "-c", help="A run.toml file."),
    resume: str = typer.Option(None, "--resume", help="Continue this run (name or path)."),
    benchmark: str = typer.Option(None, help="humaneval, bugfix or polyglot."),
    benchmark_path: Path = typer.Option(
        None, "--benchmark-path", help="A local checkout of the suite (polyglot)."
    ),
    languages: str = typer.Option(
        None, help="Languages of polyglot to use, comma-separated (e.g. python,rust)."
    ),
    subset: str = typer.Option(None, help="small, medium or full."),
    policy: str = typer.Option(None, help="hgm, dgm, greedy, random or latest."),
    model: str = typer.Option(None, help="A litellm model name; `sim` is the offline simulator."),
    api_base: str = typer.Option(None, "--api-base", help="OpenAI-compatible base URL."),
    workers: int = typer.Option(None, help="Concurrent sandbox workers."),
    executor: str = typer.Option(None, help="local (threads, the default) or ray."),
    ray_address: str = typer.Option(
        None, "--ray-address", help="With --executor ray: auto or HOST:PORT (default: start one)."
    ),
    budget_evals: int = typer.Option(None, "--budget-evals", help="Task evaluations."),
    budget_expansions: int = typer.Option(None, "--budget-expansions", help="Expansions."),
    budget_dollars: float = typer.Option(None, "--budget-dollars", help="FM dollars."),
    budget_seconds: float = typer.Option(None, "--budget-seconds", help="Wall seconds."),
    budget_tokens: int = typer.Option(None, "--budget-tokens", help="FM tokens."),
    budget_calls: int = typer.Option(None, "--budget-calls", help="FM calls."),
    seed: int = typer.Option(None, help="Seeds the policy, entries and the sim model."),
    meta: str = typer.Option(None, help="fixed (loop diagnoses) or agent (hyperagent)."),
    name: str = typer.Option(None, help="Run name (directory under runs/)."),
    runs_dir: Path = typer.Option(None, "--runs-dir", help="Where runs live (default runs/)."),
) -> None:
    """Grow a tree of self-modifying agents (with no options: a short demo run).

    The demo uses the offline `sim` model on HumanEval's small subset with the hgm policy
    and 2 workers, and takes a few minutes."""
    from dgm.run import lifecycle as runner
    from dgm.views.live import LiveView

    live = partial(LiveView, console)

    if resume:
        summary = runner.resume(resume, console, runs_dir or RUNS_DIR, live)
    else:
        cfg = RunConfig.load(
            config,
            benchmark=benchmark,
            benchmark_path=benchmark_path.expanduser().resolve() if benchmark_path else None,
            languages=[x.strip() for x in languages.split(",") if x.strip()] if languages else None,
            subset=subset,
            policy=policy,
            model=model,
            api_base=api_base,
            workers=workers,
            executor=executor,
            ray_address=ray_address,
            seed=seed,
            meta=meta,
            name=name,
            runs_dir=runs_dir,
            **{
                "budget.evals": budget_evals,
                "budget.expansions": budget_expansions,
                "budget.dollars": budget_dollars,
                "budget.wall_seconds": budget_seconds,
                "budget.tokens": budget_tokens,
                "budget.calls": budget_calls,
            },
        )
        summary = runner.start(cfg, console, live)
    report(summary)


def report(s) -> None:
    root = s.run.root
    console.print(f"\n[bold]Run finished[/bold]: {s.reason}")
    console.print(f"  run directory   {root}")
    console.print(f"  nodes           {s.nodes} ({s.invalid} invalid)")
    fake = " (sim's fake price)" if s.run.load_config().model == "sim" else ""
    console.print(f"  evaluations     {s.evaluations}   FM cost ${s.cost:.4f}{fake}")
    if s.final_evals:
        budget = f" (budget {s.budget_evals})" if s.budget_evals is not None else ""
        console.print(
            f"                  {s.evaluations - s.final_evals} by the loop{budget} + "
            f"{s.final_evals} final evaluations of the seed and final agents, beyond the budget"
        )
    rows = (("final agent", s.final, s.final_score), ("seed agent", 0, s.seed_score))
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
