"""`dgm eval`: one agent on a benchmark subset, outside any run, each task graded in a clean
sandbox by the one evaluation pipeline (dgm/run/evaluation.py) on the executor asked for.
Per-task logs and `summary.json` go to the output directory."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import uuid
from collections import Counter
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from dgm.defaults import RUNS_DIR, SIM_FAULT_RATE
from dgm.errors import DgmError
from dgm.run.config import RunConfig

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from benchmarks import Task
    from dgm.fm import Gateway
    from dgm.run.evaluation import Tracker

    Progress = Callable[[str, int], AbstractContextManager[Tracker]]
    """(title, number of jobs) -> a context manager giving a tracker (the CLI's bar)."""
    from dgm.evolve.evaluate import TaskResult

SEED_AGENT = Path(__file__).resolve().parent.parent / "seed_agent"


class EvalError(DgmError):
    """A bad `dgm eval` request (unknown agent directory, ...): one line, exit code 2."""


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
    fault_rate: float = SIM_FAULT_RATE,
    api_base: str | None = None,
    limit: int | None = None,
    console: Console | None = None,
    cost_unknown: str = "refuse",
    executor: str = "local",
    ray_address: str | None = None,
    progress: Progress | None = None,
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
    from dgm.fm import MemoryLedger
    from sandbox import ensure_image, remove_orphans

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(out or RUNS_DIR / f"eval-{benchmark}-{subset}-{stamp}")
    # a run's defaults: per-session caps, provider timeouts and retries (docs/run.toml)
    gateway = RunConfig.parse(
        {"model": model, "api_base": api_base, "seed": seed, "sim_fault_rate": fault_rate,
         "cost_unknown": cost_unknown}
    ).gateway(MemoryLedger())  # fmt: skip
    ensure_image(console=console)
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
            _evaluate(snapshot, tasks, summary, gateway, timeout, executor, ray_address,
                      progress)  # fmt: skip
        except KeyboardInterrupt:
            summary.interrupted = True
            raise
        finally:
            summary.seconds = round(time.monotonic() - start, 2)
            gateway.close()
            remove_orphans(run=run_id)
            (out / "summary.json").write_text(summary.to_json())
    return summary


def _evaluate(agent_dir: Path, tasks: list[Task], summary: EvalSummary, gateway: Gateway,
              timeout: float, executor: str, ray_address: str | None,
              progress: Progress | None) -> None:  # fmt: skip
    """Every task through the pipeline; the summary holds what came back, even when
    interrupted."""
    from dgm.executors import make_executor, pack_dir
    from dgm.run.evaluation import Ran, Tracker, evaluate
    from dgm.run.jobs import eval_task_job, finish_eval_task
    from sandbox import remove_orphans, wait_for_removals

    source, logs = pack_dir(agent_dir), Path(summary.out) / "logs"
    jobs = [eval_task_job(source, task, summary.run_id, timeout) for task in tasks]
    task_of = {job.key: job.task.id for job in jobs}
    ran: Ran = Ran()
    pool = make_executor(executor, summary.workers, gateway, ray_address)
    try:
        title = f"{summary.benchmark}/{summary.subset}"
        shown = progress(title, len(jobs)) if progress else nullcontext(Tracker())
        with shown as tracker:
            evaluate(
                jobs, lambda job, done: finish_eval_task(done, logs), pool, tracker=tracker,
                abort=lambda: remove_orphans(run=summary.run_id), ran=ran,
            )  # fmt: skip
    finally:
        summary.results = {task_of[k]: r for k, r in ran.done.items()}
        summary.held = {task_of[k]: why for k, why in ran.held.items()}
    wait_for_removals()
