"""`dgm replay`'s re-run: one node's agent again on one task, by the one evaluation pipeline
(dgm/run/evaluation.py), its logs under the run's `replays/` folder. With the run's FM cache
in replay mode the agent gets the recorded answers; the comparison with the recorded
evaluation is a view (dgm/views/replay.py)."""

from __future__ import annotations

import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from dgm.errors import DgmError
from dgm.run.rundir import RunDir


class ReplayError(DgmError):
    """A replay that cannot be made (unknown node, nothing recorded to replay): exit 2."""


@dataclass
class Rerun:
    """The recorded evaluation (the latest on the task, if any) and the new one."""

    node: int
    task: str
    mode: str  # "cached" or the fresh model's name
    original: Any | None  # archive Evaluation
    new: Any  # dgm.evolve.evaluate.TaskResult


def rerun_task(
    run: RunDir,
    archive: Any,
    node: int,
    task_id: str,
    *,
    cached: bool,
    model: str | None,
    console: Console | None = None,
) -> Rerun:
    """Run `node`'s agent on `task_id` again: from the run's recorded FM answers (`cached`)
    or afresh with `model`. Bad requests raise before any sandbox starts."""
    from benchmarks import get_benchmark
    from dgm.executors import LocalExecutor, pack_dir
    from dgm.fm import Budget, MemoryLedger
    from dgm.run.evaluation import EvalFailed, evaluate
    from dgm.run.jobs import eval_task_job, finish_eval_task
    from sandbox import ensure_image, remove_orphans, wait_for_removals

    if cached == bool(model):
        raise ReplayError(
            "give exactly one of --cached (the run's recorded FM answers) or --model M"
        )
    if not archive.has_node(node):
        raise ReplayError(f"no node {node} in run '{run.run_id}'")
    config = run.load_config()
    suite = get_benchmark(config.benchmark, **config.benchmark_options())
    task = suite.task(task_id)  # unknown: exit 2
    recorded = [e for e in archive.evaluations(node) if e.task == task_id]
    original = recorded[-1] if recorded else None
    if cached and original is None:
        raise ReplayError(f"node {node} was never evaluated on '{task_id}': nothing to replay")
    # The recorded answers are keyed by attempt: replay the attempt that was recorded.
    attempt = len(recorded) - 1 if cached else len(recorded)
    ensure_image(console=console)
    suite.prepare(console=console)  # the suite's own images (polyglot's toolchains)
    gateway = config.gateway(
        MemoryLedger(),  # a replay is not part of the run: its ledger stays untouched
        budget=Budget(),
        cache_dir=run.fm_cache,
        cache_mode="replay" if cached else "off",
        **({} if cached else {"model": model, "api_base": None}),
    )
    log_dir = run.root.resolve() / "replays" / f"node-{node}" / time.strftime("%Y%m%d-%H%M%S")
    # Its own container label (the run id is no part of the FM cache key): Ctrl-C removes
    # the replay's sandboxes, never those of the run, which may still be going.
    label = f"{run.run_id}-replay-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="dgm-replay-") as tmp:
        agent = run.agent_dir(node)
        if not (agent / ".complete").exists():
            agent = archive.materialize(node, Path(tmp) / "agent")
        job = eval_task_job(pack_dir(agent), task, label, config.solve_timeout, node=node,
                            attempt=attempt)  # fmt: skip
        try:
            ran = evaluate(
                [job], lambda _, done: finish_eval_task(done, log_dir),
                LocalExecutor(1, gateway), abort=lambda: remove_orphans(run=label),
            )  # fmt: skip
        finally:
            gateway.close()
            wait_for_removals()
    if job.key in ran.held:
        raise EvalFailed(f"the replay has no result: {ran.held[job.key]}")
    mode = "cached" if cached else str(model)
    return Rerun(node, task_id, mode, original, ran.done[job.key])
