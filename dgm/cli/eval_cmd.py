"""`dgm eval`: run one agent on a benchmark subset, grade each task in a clean sandbox
(the request is `dgm.run.eval_agent.run_eval`, its report `dgm.views.evaluation`)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import typer
from rich.console import Console

from dgm.defaults import SIM_FAULT_RATE
from dgm.run.eval_agent import run_eval
from dgm.views.evaluation import EvalProgress, eval_report


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)


def eval_command(
    agent: str = typer.Option("seed", help="`seed` (the packaged seed agent) or a directory."),
    benchmark: str = typer.Option("humaneval", help="humaneval, bugfix or polyglot."),
    subset: str = typer.Option("small", help="small, medium or full."),
    model: str = typer.Option("sim", help="A litellm model name; `sim` is the offline simulator."),
    workers: int = typer.Option(2, help="Concurrent sandboxes."),
    seed: int = typer.Option(0, help="Seeds the sim model's faults."),
    out: Path = typer.Option(None, help="Output directory (default runs/eval-...)."),
    path: Path = typer.Option(None, help="A local checkout, for polyglot."),
    timeout: float = typer.Option(240.0, help="Seconds the agent may take per task."),
    fault_rate: float = typer.Option(
        SIM_FAULT_RATE, "--fault-rate", help="`sim` only: faulty answers."
    ),
    api_base: str = typer.Option(None, "--api-base", help="OpenAI-compatible base URL."),
    limit: int = typer.Option(None, help="Only the first N tasks of the subset."),
    cost_unknown: str = typer.Option(
        "refuse", "--cost-unknown", help="refuse a model litellm has no price for, or ignore."
    ),
    executor: str = typer.Option("local", help="local (threads) or ray."),
    ray_address: str = typer.Option(
        None, "--ray-address", help="With --executor ray: auto or HOST:PORT (default: start one)."
    ),
) -> None:
    """Evaluate one agent on a benchmark subset; per-task logs and a summary go to --out."""
    console = Console(stderr=True)
    try:
        summary = run_eval(
            agent, benchmark, subset, model=model, workers=workers, seed=seed, out=out,
            path=path, timeout=timeout, fault_rate=fault_rate, api_base=api_base, limit=limit,
            console=console, cost_unknown=cost_unknown, executor=executor,
            ray_address=ray_address, progress=partial(EvalProgress, console),
        )  # fmt: skip
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]: its containers are removed")
        raise typer.Exit(130) from None
    eval_report(summary, Console())
