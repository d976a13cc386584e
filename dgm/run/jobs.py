"""The loop's work as self-contained jobs: what the head sends an executor for an evaluation
or an expansion, what a worker (a thread here, or a process on another machine) does with
it, and how the head takes the result back.

The worker runs the very `Workbench.evaluate` / `Workbench.expand` code over a view of the
job's data (the agent's source unpacked from a tar, the task, the parent's evaluations, the
run's settings) and writes only to its scratch directory; the head writes the logs it sends
back into the run's logs folder and commits the record to the archive, as before.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from dgm.executors import Job, JobContext, JobResult, collect_logs, pack_dir, unpack_tar
from dgm.executors import write_logs as _write_logs
from dgm.executors.base import LazySource
from dgm.run.workbench import Evaluation, Expansion, Workbench
from sandbox import SandboxConfig

EVALUATE = "dgm.run.jobs:run_evaluation"
EXPAND = "dgm.run.jobs:run_expansion"


class JobMaker:
    """The head's side: jobs from the scheduler's work items, records from results."""

    def __init__(self, bench: Workbench):
        self.bench = bench
        self._sources: dict[int, LazySource] = {}
        self._lock = threading.Lock()

    def source(self, node: int) -> LazySource:
        """The node's tree as a tar, made once per node (a node's code never changes) and
        off the scheduler's thread where the executor allows."""
        with self._lock:
            if node not in self._sources:
                self._sources[node] = LazySource(lambda: pack_dir(self.bench.agent_source(node)))
            return self._sources[node]

    def _settings(self, **extra: Any) -> dict[str, Any]:
        b = self.bench
        return {"run_id": b.run.run_id, "config": b.config, "benchmark": b.benchmark.name,
                **extra}  # fmt: skip

    def evaluation(self, node: int, task_id: str, attempt: int) -> Job:
        task = self.bench.benchmark.task(task_id)
        return Job(
            "evaluate", f"evaluate:{node}:{task_id}:{attempt}", EVALUATE, self.source(node),
            task, self._settings(node=node, attempt=attempt), {"node": node, "task": task_id},
        )  # fmt: skip

    def expansion(self, parent: int, index: int) -> Job:
        evals = self.bench.archive.evaluations(parent)
        problems = {e.task: self.bench._problem_text(e.task) for e in evals}
        settings = self._settings(parent=parent, index=index, evaluations=evals,
                                  problems=problems)  # fmt: skip
        return Job("expand", f"expand:{index}", EXPAND, self.source(parent), None, settings,
                   {"node": parent, "index": index})  # fmt: skip

    def finish(self, result: JobResult) -> Evaluation | Expansion:
        """Write the job's logs into the run's logs folder; the record, with its paths
        pointing there (and an expansion's child tree unpacked on the head)."""
        logs = self.bench.run.logs
        _write_logs(result.logs, logs)
        value = result.value
        record, root = value["record"], value["logs_root"]
        if isinstance(record, Evaluation):
            record.result.log_path = _rehome(record.result.log_path, root, logs)
            return record
        dest = self.bench.scratch / f"child-{record.index}"
        shutil.rmtree(dest, ignore_errors=True)
        record.child_dir = unpack_tar(value["child"], dest)
        if "log" in record.meta:
            record.meta["log"] = _rehome(record.meta["log"], root, logs)
        return record


def _rehome(path: str | None, root: str, logs: Path) -> str | None:
    """A worker's log path as the head's path of the same file."""
    if path is None:
        return None
    rel = Path(path).relative_to(root) if Path(path).is_relative_to(root) else Path(path).name
    return str(logs / rel)


# -- the worker's side ---------------------------------------------------------------------------
class _ArchiveView:
    """What `Workbench.expand` reads of the archive: the parent's evaluations, sent along."""

    def __init__(self, evaluations: list):
        self._evaluations = list(evaluations)

    def evaluations(self, node: int | None = None) -> list:
        return list(self._evaluations)


class _BenchmarkView:
    """The job's task, and the problem texts of the parent's evaluated tasks."""

    def __init__(self, name: str, task, problems: dict[str, str]):
        self.name, self._task, self._problems = name, task, problems

    def task(self, task_id: str):
        if self._task is not None and self._task.id == task_id:
            return self._task
        if task_id in self._problems:
            return SimpleNamespace(id=task_id, problem=self._problems[task_id])
        raise KeyError(task_id)


class WorkerBench(Workbench):
    """The workbench over one job's data, writing only below the job's scratch directory."""

    def __init__(self, job: Job, ctx: JobContext):
        s = job.settings
        self.run = SimpleNamespace(run_id=s["run_id"], logs=ctx.scratch / "logs")
        self.run.logs.mkdir()
        self.config, self.gateway = s["config"], ctx.gateway
        self.archive = _ArchiveView(s.get("evaluations", []))
        self.benchmark = _BenchmarkView(s["benchmark"], job.task, s.get("problems", {}))
        self.sandbox_config = SandboxConfig(background_removal=True)
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()
        self.scratch = ctx.scratch / "work"
        self.scratch.mkdir()
        self._agent = ctx.unpack_source(job)

    def agent_source(self, node: int) -> Path:
        return self._agent

    def close(self) -> None:
        pass  # the job's scratch directory goes with the job


def run_evaluation(job: Job, ctx: JobContext) -> dict[str, Any]:
    bench = WorkerBench(job, ctx)
    s = job.settings
    record = bench.evaluate(s["node"], job.task.id, s["attempt"])
    ctx.logs.update(collect_logs(bench.run.logs))
    return {"record": record, "logs_root": str(bench.run.logs)}


def run_expansion(job: Job, ctx: JobContext) -> dict[str, Any]:
    bench = WorkerBench(job, ctx)
    record = bench.expand(job.settings["parent"], job.settings["index"])
    child = pack_dir(record.child_dir, exclude=())
    record.child_dir = None  # a worker's path; the head unpacks `child` in its place
    ctx.logs.update(collect_logs(bench.run.logs))
    return {"record": record, "child": child, "logs_root": str(bench.run.logs)}


# -- `dgm eval`: one agent on one task, outside a run ---------------------------------------------
EVAL_TASK = "dgm.run.jobs:run_eval_task"


def eval_task_job(source: bytes, task, run_id: str, timeout: float, node: int = 0,
                  attempt: int = 0) -> Job:  # fmt: skip
    # node and attempt name the FM session, so a replay meets the recorded cache keys
    return Job("evaluate", f"eval:{task.id}", EVAL_TASK, source, task,
               {"run_id": run_id, "timeout": timeout, "node": node, "attempt": attempt},
               {"task": task.id})  # fmt: skip


def run_eval_task(job: Job, ctx: JobContext) -> dict[str, Any]:
    from dgm.evolve.evaluate import run_task

    logs = ctx.scratch / "logs"
    record = run_task(
        ctx.unpack_source(job), job.task, gateway=ctx.gateway, run_id=job.settings["run_id"],
        node=job.settings.get("node", 0), attempt=job.settings.get("attempt", 0),
        sandbox_config=SandboxConfig(background_removal=True),
        log_dir=logs, timeout=job.settings["timeout"],
    )  # fmt: skip
    ctx.logs.update(collect_logs(logs))
    return {"record": record, "logs_root": str(logs)}


def finish_eval_task(result: JobResult, logs: Path):
    """The TaskResult of a `run_eval_task` job, its logs written below `logs`."""
    _write_logs(result.logs, logs)
    record = result.value["record"]
    record.log_path = _rehome(record.log_path, result.value["logs_root"], logs)
    return record
