"""`dgm eval`: run one agent on a benchmark subset, grade each task in a clean sandbox."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dgm.errors import DgmError
from dgm.run.config import RunConfig

if TYPE_CHECKING:
    from benchmarks import Task
    from dgm.evolve.evaluate import TaskResult

SEED_AGENT = Path(__file__).resolve().parent.parent / "seed_agent"


class EvalError(DgmError):
    """A bad `dgm eval` request (unknown agent directory, ...): one line, exit code 2."""


class EvalFailed(DgmError):
    """The host failed an evaluation (not the agent): one line, exit code 1."""

    exit_code = 1


@dataclass
class EvalSummary:
    """What one `dgm eval` did."""

    agent: str
    benchmark: str
    subset: str
    model: str
    seed: int
    workers: int
    out: str
    run_id: str = ""
    results: dict[str, TaskResult] = field(default_factory=dict)
    seconds: float = 0.0
    interrupted: bool = False
    held: dict[str, str] = field(default_factory=dict)
    """Tasks not recorded because the model provider failed (not the agent), with why."""

    @property
    def counts(self) -> Counter:
        return Counter(str(r.outcome) for r in self.results.values())

    @property
    def cost(self) -> float:
        return sum(r.cost for r in self.results.values())

    @property
    def tokens(self) -> int:
        return sum(r.tokens for r in self.results.values())

    def to_json(self) -> str:
        data = {k: v for k, v in asdict(self).items() if k != "results"}
        data.update(counts=dict(self.counts), cost=self.cost, tokens=self.tokens)
        data["results"] = {
            t: {**asdict(r), "outcome": str(r.outcome)} for t, r in self.results.items()
        }
        return json.dumps(data, indent=2)


def resolve_agent(agent: str) -> Path:
    """`seed` -> the packaged seed agent; else a directory holding `agent.py`."""
    path = SEED_AGENT if agent == "seed" else Path(agent).expanduser()
    if not path.is_dir():
        raise EvalError(f"agent directory not found: {agent}")
    if not (path / "agent.py").is_file():
        raise EvalError(f"not an agent directory (no agent.py): {agent}")
    return path.resolve()


def snapshot_agent(agent_dir: Path, dest: Path) -> Path:
    """A private, world-readable copy, so the evaluated code cannot change mid-run."""
    shutil.copytree(agent_dir, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for path in (dest, *dest.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return dest


def run_eval(
    agent: str,
    benchmark: str,
    subset: str,
    *,
    model: str = "sim",
    workers: int = 2,
    seed: int = 0,
    out: Path | None = None,
    path: Path | None = None,
    timeout: float = 240.0,
    fault_rate: float = 0.45,
    api_base: str | None = None,
    limit: int | None = None,
    console: Console | None = None,
    cost_unknown: str = "refuse",
    executor: str = "local",
    ray_address: str | None = None,
) -> EvalSummary:
    """Evaluate `agent` on every task of `benchmark`/`subset`; bad input raises before any
    sandbox starts. Ctrl-C stops the run, removes its containers and re-raises."""
    # benchmarks is light; the FM stack (litellm) loads only once the request is sound
    from benchmarks import get_benchmark

    console = console or Console(stderr=True)
    agent_dir = resolve_agent(agent)
    if workers < 1:
        raise EvalError("--workers must be at least 1")
    suite = get_benchmark(benchmark, **({"path": path} if path else {}))
    tasks = suite.tasks(subset)[:limit]
    from dgm.fm import Gateway, MemoryLedger
    from sandbox import ensure_image, remove_orphans

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(out or Path("runs") / f"eval-{benchmark}-{subset}-{stamp}")
    # a run's defaults: per-session caps, provider timeouts and retries (docs/run.toml)
    options = RunConfig.parse(
        {"model": model, "api_base": api_base, "seed": seed, "sim_fault_rate": fault_rate,
         "cost_unknown": cost_unknown}
    ).gateway_options()  # fmt: skip
    gateway = Gateway(ledger=MemoryLedger(), **options)
    ensure_image(console=console)
    if hasattr(suite, "prepare"):
        suite.prepare(console=console)  # the suite's own images (polyglot's toolchains)
    run_id = f"eval-{uuid.uuid4().hex[:8]}"
    summary = EvalSummary(
        str(agent_dir), benchmark, subset, model, seed, workers, str(out), run_id=run_id
    )
    (out / "logs").mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dgm-eval-agent-") as tmp:
        snapshot = snapshot_agent(agent_dir, Path(tmp) / "agent")
        Path(tmp).chmod(0o755)
        try:
            where = (executor, ray_address)
            _run_all(snapshot, tasks, summary, gateway, run_id, out, timeout, console, where)
        except KeyboardInterrupt:
            summary.interrupted = True
            raise
        finally:
            summary.seconds = round(time.monotonic() - start, 2)
            gateway.close()
            remove_orphans(run=run_id)
            (out / "summary.json").write_text(summary.to_json())
    return summary


def _run_all(agent_dir, tasks: list[Task], summary, gateway, run_id, out, timeout, console,
             where=("local", None)):  # fmt: skip
    from dgm.executors import make_executor, pack_dir
    from dgm.fm import ProviderDown
    from dgm.run.jobs import eval_task_job, finish_eval_task
    from sandbox import remove_orphans, wait_for_removals

    source = pack_dir(agent_dir)
    pool = make_executor(where[0], summary.workers, gateway, where[1])
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[tally]}"), TimeElapsedColumn(),
    )  # fmt: skip
    futures: dict[Future, Task] = {}
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            bar = progress.add_task(
                f"{summary.benchmark}/{summary.subset}", total=len(tasks), tally=""
            )
            for task in tasks:
                futures[pool.submit(eval_task_job(source, task, run_id, timeout))] = task
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for fut in done:
                    task = futures[fut]
                    try:
                        ran = _result(fut, task)
                        if ran.lost:  # its node died: nothing is known, so it runs again
                            again = pool.submit(eval_task_job(source, task, run_id, timeout))
                            futures[again] = task
                            pending.add(again)
                            continue
                        summary.results[task.id] = finish_eval_task(ran, out / "logs")
                    except ProviderDown as exc:
                        if exc.fatal:  # a refused key or model fails every task alike
                            raise
                        summary.held[futures[fut].id] = str(exc)
                resolved = summary.counts["resolved"]
                tally = f"resolved {resolved}  not {len(summary.results) - resolved}"
                if summary.held:
                    tally += f"  not recorded {len(summary.held)}"
                finished = len(summary.results) + len(summary.held)
                progress.update(bar, completed=finished, tally=tally)
    except BaseException:
        # Ctrl-C or an environment failure: drop queued tasks, kill the running ones
        pool.shutdown(cancel=True)
        remove_orphans(run=run_id)
        _drain(futures, run_id)
        raise
    pool.shutdown()
    wait_for_removals()


def _result(fut: Future, task: Task):
    """The task's result; an unexpected failure of the host becomes one line, not a
    traceback (what the agent does is an outcome, never an exception)."""
    try:
        return fut.result()
    except Exception as exc:
        if isinstance(getattr(exc, "exit_code", None), int):
            raise  # ours: already one line with its exit code
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise EvalFailed(f"evaluating {task.id} failed: {type(exc).__name__}: {first}") from exc


def _drain(futures: dict[Future, Task], run_id: str, patience: float = 30.0) -> None:
    """Let running workers see their containers gone (a grading may start a new one)."""
    from sandbox import remove_orphans

    deadline = time.monotonic() + patience
    while any(not f.done() for f in futures) and time.monotonic() < deadline:
        wait([f for f in futures if not f.done()], timeout=1.0)
        remove_orphans(run=run_id)


def report(summary: EvalSummary, console: Console) -> None:
    """The resolved rate with counts, cost, time and where the logs are."""
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
    fault_rate: float = typer.Option(0.45, "--fault-rate", help="`sim` only: faulty answers."),
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
            ray_address=ray_address,
        )  # fmt: skip
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]: its containers are removed")
        raise typer.Exit(130) from None
    report(summary, Console())
