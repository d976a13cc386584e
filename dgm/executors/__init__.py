"""Executors: where the loop's jobs run (`local` threads, or `ray` tasks on a cluster).

`ray` is imported only when asked for, so the package works without the `ray` extra.
"""

from __future__ import annotations

from dgm.executors.base import (
    ExecutorError,
    Job,
    JobContext,
    JobResult,
    collect_logs,
    pack_dir,
    run_job,
    unpack_tar,
    write_logs,
)
from dgm.executors.local import LocalExecutor
from dgm.protocols import Executor  # the seam, declared with the others

EXECUTORS = ("local", "ray")

__all__ = [
    "EXECUTORS",
    "Executor",
    "ExecutorError",
    "Job",
    "JobContext",
    "JobResult",
    "LocalExecutor",
    "collect_logs",
    "make_executor",
    "pack_dir",
    "run_job",
    "unpack_tar",
    "write_logs",
]


def make_executor(kind: str, workers: int, gateway=None, address: str | None = None, **options):
    """The executor a run asked for (`local` or `ray`)."""
    if kind == "local":
        return LocalExecutor(workers, gateway)
    if kind == "ray":
        try:
            from dgm.executors.ray_executor import RayExecutor
        except ImportError:
            raise ExecutorError("the ray executor needs Ray: pip install 'dgm[ray]'") from None
        return RayExecutor(workers, gateway, address, **options)
    raise ExecutorError(f"unknown executor {kind!r} (one of {', '.join(EXECUTORS)})")
