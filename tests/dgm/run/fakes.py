"""A Docker-free workbench and executor for the scheduler's tests and `perf/loop_bench.py`.

`FakeWorkbench` stands where `dgm.run.workbench.Workbench` stands for the scheduler's
`JobMaker` (agent sources, the benchmark's tasks, the run's logs and scratch folders), so the
real job packing and result unpacking run. `FakeExecutor` replaces the thread pool: instead
of importing the job's function it asks the workbench for a scripted outcome, decided on the
scheduler's thread at submission, in submission order, so a run is deterministic.

Outcomes are scripted per evaluation `(node, task)` and per expansion index; each run of the
job takes the next scripted outcome, and a job with none left gets the default (a seeded
coin flip for an evaluation, a valid child for an expansion).
"""

from __future__ import annotations

import shutil
import time
from collections import defaultdict, deque
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from archive import Archive
from dgm.evolve.evaluate import TaskResult
from dgm.executors import Job, JobResult, pack_dir, unpack_tar
from dgm.executors.base import source_bytes
from dgm.fm import BudgetExceeded, Gateway, ProviderDown, SessionTags
from dgm.policies import make_policy
from dgm.run.config import RunConfig
from dgm.run.lifecycle import rebuild_tree
from dgm.run.scheduler import Scheduler
from dgm.run.workbench import Evaluation, Expansion

# Evaluation outcomes are the archive's own ("resolved", "unresolved", "tampered", ...);
# expansions are VALID or INVALID. The rest apply to either kind of job:
VALID, INVALID = "valid", "invalid"
PROVIDER_DOWN = "provider_down"  # the provider failed after the gateway's retries: held
PROVIDER_REFUSED = "provider_refused"  # the provider refused the key or model (fatal)
BUDGET = "budget"  # the run's FM budget ran out during the job: held, not recorded
FM_CALL = "fm_call"  # `fm_calls` real calls through the run's gateway (`sim`), then success
LOST = "lost"  # the job's node died: the executor reports it lost
ERROR = "error"  # the job raised (a sandbox or daemon failure, not the agent's)
KILL = "kill"  # the head is killed as this job's result arrives (see `Killed`)
HANG = "hang"  # the job never finishes; cancelled when the executor shuts down


class Killed(BaseException):
    """Raised into the scheduler's thread as Ctrl-C would be: the run stops where it is,
    keeps what is committed, and leaves the rest in flight for a resume."""


@dataclass(frozen=True)
class FakeTask:
    id: str
    problem: str


class FakeBenchmark:
    name = "fake"

    def task(self, task_id: str) -> FakeTask:
        return FakeTask(task_id, f"solve {task_id}")


class FakeWorkbench:
    """What `JobMaker` reads of a workbench, plus the scripts and a record of every job run."""

    def __init__(self, archive: Archive, root: Path, config: RunConfig | None = None,
                 gateway: Any = None, seed: int = 0, resolve_rate: float = 0.5,
                 fm_calls: int = 1):  # fmt: skip
        self.archive, self.gateway = archive, gateway
        self.config = config or RunConfig()
        self.benchmark = FakeBenchmark()
        self.scratch = Path(root) / "scratch"
        self.run = SimpleNamespace(run_id="fake-run", logs=Path(root) / "logs")
        self.run.logs.mkdir(parents=True, exist_ok=True)
        self.rng = np.random.default_rng(seed)
        self.resolve_rate, self.fm_calls = resolve_rate, fm_calls
        self.scripts: dict[tuple, deque[str]] = defaultdict(deque)
        self.ran: list[tuple] = []  # (kind, node, task or index, outcome) per job submitted
        self._sources: dict[int, Path] = {}

    # -- scripting -------------------------------------------------------------------------
    def on_eval(self, node: int, task: str, *outcomes: str) -> None:
        self.scripts[("evaluate", node, task)].extend(outcomes)

    def on_expand(self, index: int, *outcomes: str) -> None:
        self.scripts[("expand", index)].extend(outcomes)

    def runs(self, kind: str, key: Any = None) -> list[tuple]:
        """The jobs of `kind` run so far (of one expansion index or (node, task) when given)."""
        out = [r for r in self.ran if r[0] == kind]
        if key is None:
            return out
        return [r for r in out if (r[2] if kind == "expand" else (r[1], r[2])) == key]

    # -- what JobMaker reads ---------------------------------------------------------------
    def agent_source(self, node: int) -> Path:
        if node not in self._sources:
            self._sources[node] = self.archive.materialize(node, self.scratch / f"agent-{node}")
        return self._sources[node]

    def _problem_text(self, task_id: str) -> str:
        return self.benchmark.task(task_id).problem

    def close(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)

    # -- running a job (the executor's side) -----------------------------------------------
    def outcome(self, job: Job) -> str:
        key = ("expand", job.tags["index"]) if job.kind == "expand" else (
            "evaluate", job.tags["node"], job.tags["task"])  # fmt: skip
        script = self.scripts.get(key)
        if script:
            return script.popleft()
        if job.kind == "expand":
            return VALID
        return "resolved" if self.rng.random() < self.resolve_rate else "unresolved"

    def run_job(self, job: Job, outcome: str) -> Any:
        """The job's value as `run_evaluation` / `run_expansion` return it, or raise."""
        node, what = job.tags["node"], _what(job)
        if outcome == PROVIDER_DOWN:
            raise ProviderDown("fake: the provider answered 503 after every retry")
        if outcome == PROVIDER_REFUSED:
            raise ProviderDown("fake: the provider refused the key", fatal=True)
        if outcome == BUDGET:
            raise BudgetExceeded("fake: the FM budget ran out during this job", "run")
        if outcome == ERROR:
            raise RuntimeError("fake: the sandbox failed")
        if outcome == FM_CALL:
            self._fm_call(job)  # raises BudgetExceeded once the run's budget refuses
            outcome = VALID if job.kind == "expand" else "resolved"
        if job.kind == "evaluate":
            reason = (
                f"{what}: the agent wrote the grader's report" if outcome == "tampered" else None
            )
            result = TaskResult(outcome, 10, 0.0, 0.01, None, reason=reason)
            return {"record": Evaluation(node, what, result), "logs_root": "/fake"}
        return {"record": self._expansion(job, outcome == VALID), "logs_root": "/fake",
                "child": self._child(job)}  # fmt: skip

    def _expansion(self, job: Job, valid: bool) -> Expansion:
        index = job.tags["index"]
        reason = None if valid else "fake: the child does not start"
        return Expansion(job.tags["node"], index, "fake", f"change {index}", None, valid, reason,
                         0.0, {"expansion": index})  # fmt: skip

    def _child(self, job: Job) -> bytes:
        """The parent's tree (sent with the job) with one line added, as a tar."""
        work = self.scratch / f"job-child-{job.tags['index']}"
        shutil.rmtree(work, ignore_errors=True)
        unpack_tar(source_bytes(job), work)
        with open(work / "agent.py", "a") as f:
            f.write(f"# change {job.tags['index']}\n")
        data = pack_dir(work, exclude=())
        shutil.rmtree(work)
        return data

    def _fm_call(self, job: Job) -> None:
        tags = SessionTags(run=self.run.run_id, node=job.tags["node"], task=job.key,
                           role="self_modify", attempt=0)  # fmt: skip
        with self.gateway.session(tags) as fm:
            for _ in range(self.fm_calls):
                self.gateway.complete(fm, [{"role": "user", "content": "change something"}])


def _what(job: Job) -> Any:
    """An evaluation's task, or an expansion's index."""
    return job.tags["task"] if job.kind == "evaluate" else job.tags["index"]


class _Future(Future):
    """Hashed by submission number: `concurrent.futures.wait` returns a set, and the order
    the scheduler walks it must not depend on memory addresses."""

    def __init__(self, seq: int):
        super().__init__()
        self.seq = seq

    def __hash__(self) -> int:
        return self.seq


class FakeExecutor:
    """The `Executor` protocol over a `FakeWorkbench`: a job's result is ready when `submit`
    returns (or never, for HANG), so the scheduler never waits on a clock."""

    name = "fake"

    def __init__(self, bench: FakeWorkbench):
        self.bench = bench
        self.submitted: list[tuple[str, float]] = []  # (job key, monotonic time)
        self.pending: list[Future] = []
        self.shutdowns: list[bool] = []  # the `cancel` flag of each shutdown
        self.cancels: list[Future] = []  # futures the scheduler cancelled one by one
        # Time spent doing the jobs' own work, which a real executor does on a worker, not
        # on the scheduler's thread (perf/loop_bench.py leaves it out of the loop's time).
        self.work_seconds = 0.0

    def submit(self, job: Job) -> Future:
        fut = _Future(len(self.submitted))
        self.submitted.append((job.key, time.monotonic()))
        outcome = self.bench.outcome(job)
        self.bench.ran.append((job.kind, job.tags["node"], _what(job), outcome))
        if outcome == HANG:
            self.pending.append(fut)
            return fut
        if outcome == KILL:
            fut.set_exception(Killed())
            return fut
        if outcome == LOST:
            fut.set_result(JobResult(job.key, "lost", node="fake-node", reason="node died"))
            return fut
        start = time.perf_counter()
        try:
            value = self.bench.run_job(job, outcome)
        except Exception as exc:  # noqa: BLE001 - handed to the scheduler, as a worker would
            fut.set_exception(exc)
        else:
            fut.set_result(JobResult(job.key, "done", value, {}, "fake-node"))
        self.work_seconds += time.perf_counter() - start
        return fut

    def cancel(self, future: Future) -> bool:
        self.cancels.append(future)
        return future.cancel()

    def shutdown(self, cancel: bool = False) -> None:
        self.shutdowns.append(cancel)
        if cancel:
            for fut in self.pending:
                fut.cancel()

    def __enter__(self) -> FakeExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(cancel=exc[0] is not None)


class RecordingView:
    """A `RunView` that keeps what the scheduler told it."""

    def __init__(self) -> None:
        self.started_jobs: list[Any] = []
        self.finished_jobs: list[Any] = []
        self.notes: list[str] = []

    def started(self, work: Any) -> None:
        self.started_jobs.append(work)

    def finished(self, work: Any, result: Any) -> None:
        self.finished_jobs.append(work)

    def note(self, text: str) -> None:
        self.notes.append(text)


class FakeRun:
    """A run over a real `Archive`, a real policy and (unless given another) a real `sim`
    `Gateway` built from the config, with only the workbench and executor faked. Each
    `scheduler()` is what `dgm run` or `dgm run --resume` builds: the tree rebuilt from the
    archive, a fresh policy whose state the scheduler restores from the archive."""

    def __init__(self, root: Path, tasks: list[str], config: RunConfig, policy: str = "greedy",
                 seed_agent: Path | None = None, gateway: Any = None,
                 **policy_params: Any):  # fmt: skip
        root = Path(root)
        if seed_agent is None:
            seed_agent = root / "seed"
            seed_agent.mkdir(parents=True)
            (seed_agent / "agent.py").write_text("print('seed')\n")
        self.archive = Archive.create(root / "run", seed_agent)
        self.archive.set_quarantine_mode(config.quarantine)
        self.config, self.tasks = config, list(tasks)
        self.policy_name, self.policy_params = policy, policy_params
        self.gateway = gateway or Gateway(ledger=self.archive, **config.gateway_options())
        self.bench = FakeWorkbench(self.archive, root, config, self.gateway, seed=config.seed)
        self.executor = FakeExecutor(self.bench)
        self.view = RecordingView()
        self.aborts = 0  # calls of the scheduler's on_abort (a real run removes containers)

    def _abort(self) -> None:
        self.aborts += 1

    def scheduler(self) -> Scheduler:
        tree = rebuild_tree(self.archive, self.tasks)
        policy = make_policy(self.policy_name, self.config.seed, tasks=self.tasks,
                             **self.policy_params)  # fmt: skip
        return Scheduler(self.config, self.archive, tree, policy, self.bench, self.gateway,
                         self.view, on_abort=self._abort, executor=self.executor)  # fmt: skip

    def run(self) -> str:
        return self.scheduler().run()

    def kinds(self, *kinds: str) -> list[str]:
        """The kinds of the archive's events, in order (only those named, when given)."""
        return [e.kind for e in self.archive.events() if not kinds or e.kind in kinds]

    def in_flight(self) -> list[dict[str, Any]]:
        """The jobs the saved loop state holds in flight (what a resume runs again)."""
        state = self.archive.get_state("loop") or {}
        return [j for g in state.get("groups", []) for j in g["jobs"]]

    def close(self) -> None:
        if hasattr(self.gateway, "close"):
            self.gateway.close()
        self.bench.close()
        self.archive.close()
