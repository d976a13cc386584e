"""The executor seam: self-contained jobs in, results and logs out as data.

A job names its function by import path ("package.module:function"), so the same job runs
in a thread of the head (`local`) or in a process on another machine (`ray`): everything it
needs travels with it (the agent's source as a tar, the task, the settings), and everything
it produces comes back (the record, plus its log files as bytes for the head to write). Only
the head writes the archive, the ledger and the run's logs.
"""

from __future__ import annotations

import importlib
import io
import os
import shutil
import socket
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from dgm.errors import DgmError

MAX_LOG_BYTES = 64 * 1024 * 1024  # all log files of one job together; more is cut, not sent


class ExecutorError(DgmError):
    """The executor cannot run jobs (no node can sandbox, Ray unreachable, bad address)."""

    exit_code = 1


class LazySource:
    """An agent's tar made on first use, then kept: a local worker thread makes it (not the
    scheduler's thread), a remote executor on the head before it ships it."""

    def __init__(self, make: Callable[[], bytes]):
        self._make, self._data = make, None
        self._lock = threading.Lock()

    def __call__(self) -> bytes:
        with self._lock:
            if self._data is None:
                self._data = self._make()
            return self._data


def source_bytes(job: Job) -> bytes:
    """The job's agent source as a tar."""
    return job.source if isinstance(job.source, bytes) else job.source()


@dataclass(frozen=True)
class Job:
    """One unit of work. `fn` is "module:function", called as fn(job, ctx) on the worker."""

    kind: str  # "evaluate" | "expand" | anything a test or benchmark defines
    key: str  # unique within a run, e.g. "evaluate:3:HumanEval/0:0"; names the job in reports
    fn: str
    source: bytes | LazySource = b""  # a tar of the agent's tree (see `pack_dir`)
    task: Any = None  # benchmarks.Task (a frozen dataclass, picklable) or None
    settings: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)


@dataclass
class JobResult:
    """What came back: `status` "done" with the function's `value` and `logs` (relative path
    -> bytes), or "lost": the node or worker process died under it, so nothing of the agent
    is known and the scheduler must queue the job again. `node` names where it ran."""

    key: str
    status: str
    value: Any = None
    logs: dict[str, bytes] = field(default_factory=dict)
    node: str = ""
    seconds: float = 0.0
    reason: str | None = None

    @property
    def lost(self) -> bool:
        return self.status == "lost"


@dataclass
class JobContext:
    """What the worker gives a job function: the FM gateway (the head's own, or a proxy to
    it), a scratch directory removed after the job, and the name of the node."""

    gateway: Any
    scratch: Path
    node: str
    logs: dict[str, bytes] = field(default_factory=dict)

    def unpack_source(self, job: Job, name: str = "agent") -> Path:
        """The job's agent source, extracted into this job's scratch directory."""
        return unpack_tar(source_bytes(job), self.scratch / name)


def resolve(fn: str):
    """The function an import path names ("dgm.run.jobs:run_evaluation")."""
    module, _, name = fn.partition(":")
    if not module or not name:
        raise ExecutorError(f"a job function is 'module:function', not {fn!r}")
    return getattr(importlib.import_module(module), name)


def run_job(job: Job, gateway, node: str) -> JobResult:
    """Run one job here: its own scratch directory, its logs collected as bytes."""
    start = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="dgm-job-"))
    try:
        ctx = JobContext(gateway, scratch, node)
        value = resolve(job.fn)(job, ctx)
        return JobResult(job.key, "done", value, ctx.logs, node, time.monotonic() - start)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def node_name() -> str:
    return socket.gethostname()


# -- moving trees and logs as bytes --------------------------------------------------------
def pack_dir(src: Path, exclude: tuple[str, ...] = (".complete",)) -> bytes:
    """A tar of the directory's regular files and folders (links are not followed: an
    agent's tree is plain files, and a link must not carry a worker's file to the head)."""
    buf = io.BytesIO()
    src = Path(src)
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for root, dirs, files in os.walk(src):
            dirs.sort()
            rel_root = Path(root).relative_to(src)
            for name in sorted(files):
                path = Path(root) / name
                rel = rel_root / name
                if name in exclude or path.is_symlink() or not path.is_file():
                    continue
                tar.add(path, arcname=str(rel), recursive=False)
            for name in dirs:
                if (Path(root) / name).is_symlink():
                    continue
                tar.add(Path(root) / name, arcname=str(rel_root / name), recursive=False)
    return buf.getvalue()


def unpack_tar(data: bytes, dest: Path) -> Path:
    """Extract a `pack_dir` tar; only files and folders, only below `dest`."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        tar.extractall(dest, filter="data")
    return dest


def collect_logs(directory: Path, prefix: str = "", limit: int = MAX_LOG_BYTES) -> dict[str, bytes]:
    """Every regular file below `directory` as relative path -> bytes (at most `limit`
    bytes in all: a log over it is cut, since logs are evidence, not something to ship
    without end)."""
    out: dict[str, bytes] = {}
    left = limit
    directory = Path(directory)
    if not directory.is_dir():
        return out
    for path in sorted(directory.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        with path.open("rb") as fh:
            data = fh.read(max(left, 0))
        left -= len(data)
        out[str(PurePosixPath(prefix, path.relative_to(directory).as_posix()))] = data
    return out


def write_logs(logs: dict[str, bytes], dest: Path) -> list[Path]:
    """The head writes a job's logs below `dest`; a path that would leave it is refused."""
    dest = Path(dest).resolve()
    written = []
    for rel, data in logs.items():
        parts = PurePosixPath(rel).parts
        if not parts or PurePosixPath(rel).is_absolute() or ".." in parts:
            raise ExecutorError(f"a job sent a log path outside its directory: {rel!r}")
        path = dest.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written
