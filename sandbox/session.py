"""One sandbox session: a locked-down container, commands with limits, safe file transfer.

The container's PID 1 is the runner (`sandbox/runner.py`): it connects back to a control
socket of this process and runs commands sent over it, about 60 ms cheaper each than a
`docker exec`. It ends the container when the channel closes (even when this process dies
of SIGKILL) or the session time runs out. A container that never started has no runner to
end it: it carries its owner's label, and `cleanup.sweep` removes it once the owner is gone.
The container is created, started and removed through the Docker SDK (`sandbox/engine.py`).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker.errors

from sandbox import cleanup, container, engine, transfer
from sandbox.channel import Channel, Listener
from sandbox.config import FM_DIR, WORKDIR, SandboxConfig
from sandbox.errors import LimitExceeded, SandboxError, SandboxTimeout
from sandbox.image import IMAGE_NAME
from sandbox.output import BoundedStream

# $1 is the destination; the rest is the command, run only once the files are in place.
EXTRACT_THEN_EXEC = (
    'mkdir -p "$1" && tar -x -C "$1" || { echo "dgm: copy-in failed" >&2; exit 199; }; '
    'shift; exec "$@"'
)
BACKSTOP = 15  # seconds past a command's limit before the host gives up on the runner
COPY_TIMEOUT = 300  # seconds a copy-out may take (512 MB of small files takes far less)

_live: set[str] = set()  # containers this process started and has not removed yet
_remover = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dgm-sandbox-rm")
_removing: set[Future] = set()


@dataclass
class RunResult:
    """How one command in a sandbox ended."""

    exit_code: int
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False
    oom_killed: bool = False
    output_truncated: bool = False
    """Output beyond the kept head and tail was dropped (and past `output_kill`, the
    command was killed)."""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class Sandbox:
    """A context manager over one container: no network, no keys, limits, a non-root user."""

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        labels: Mapping[str, str] | None = None,
        ro_mounts: Mapping[str, str] | None = None,
        socket_dir: str | Path | None = None,
        env: Mapping[str, str] | None = None,
    ):
        self.config = config or SandboxConfig()
        self.labels = dict(labels or {})
        self.ro_mounts = {str(Path(k).resolve()): v for k, v in (ro_mounts or {}).items()}
        if socket_dir is not None:
            self.ro_mounts[str(Path(socket_dir).resolve())] = FM_DIR
        self.env = dict(env or {})
        self.name = f"dgm-{uuid.uuid4().hex[:12]}"
        self.container: str | None = None
        self._oom_seen = 0
        self._channel: Channel | None = None
        # A copy-in rides along with the next command (one round trip instead of two);
        # anything else that looks at files extracts it first.
        self._pending: tuple[bytes, str] | None = None

    # -- life cycle ---------------------------------------------------------------------
    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    def start(self) -> None:
        api = engine.client()
        cleanup.sweep_once()  # what killed processes left (a container never started)
        own = cleanup.owner()
        listener = Listener(own.path)
        image = self.config.image or IMAGE_NAME
        _live.add(self.name)
        try:
            # Create, then start: a kill in between leaves a container in state Created,
            # which has no runner to end it; its owner label lets the next sweep find it.
            spec = container.Spec(
                self.config, image, self.name, listener.dir, own.label,
                labels=self.labels, ro_mounts=self.ro_mounts, env=self.env,
            )  # fmt: skip
            engine.call(api.create_container, **spec.create_args(api))
            cleanup.kill_point("container-created")
            engine.call(api.start, self.name)
            alive = container.StartWatch(self.name)
            self._channel = listener.accept(timeout=120, alive=alive)
        except BaseException as exc:  # also Ctrl-C while starting: nothing may be left
            listener.close()
            self.remove()
            if isinstance(exc, docker.errors.APIError):
                raise container.start_error(exc, image) from None
            raise
        self.container = self.name

    def remove(self) -> None:
        """Remove the container (idempotent). With `background_removal` the caller goes on
        at once; `wait_for_removals()` (and interpreter exit) waits for it to finish."""
        self.container = None
        if self._channel is not None:
            self._channel.close()  # the runner kills everything and the container ends
            self._channel = None
        if self.name not in _live:
            return
        if self.config.background_removal:
            fut = _remover.submit(_remove, self.name)
            _removing.add(fut)
            fut.add_done_callback(_removing.discard)
        else:
            _remove(self.name)

    # -- commands -----------------------------------------------------------------------
    def run(
        self,
        command: Sequence[str] | str,
        *,
        timeout: float | None = None,
        cwd: str = WORKDIR,
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
    ) -> RunResult:
        """Run a command (argv, or a string for `sh -c`) as the sandbox user. `stdin`, when
        given, is the command's whole standard input (then a pending copy-in goes first)."""
        self._require()
        argv = ["sh", "-c", command] if isinstance(command, str) else list(command)
        limit = float(timeout or self.config.command_timeout)
        if stdin is not None:
            self._flush()
        pending, self._pending = self._pending, None
        if pending:
            argv = ["sh", "-c", EXTRACT_THEN_EXEC, "sh", pending[1], *argv]
            stdin = pending[0]
        half = self.config.output_limit // 2
        out = BoundedStream(None, half, self.config.output_kill)
        err = BoundedStream(None, half, self.config.output_kill)
        start = time.monotonic()
        report, killed_for_output = self._command(argv, cwd, env, limit, out, err, stdin)
        oom = report["oom_kills"] > self._oom_seen
        self._oom_seen = report["oom_kills"]
        timed_out = report["timed_out"]
        return RunResult(
            exit_code=report["code"],
            stdout=out.text(),
            stderr=err.text() + ("\n[killed: output limit exceeded]" if killed_for_output else ""),
            duration=time.monotonic() - start,
            timed_out=timed_out,
            oom_killed=oom and report["code"] == 137 and not timed_out and not killed_for_output,
            output_truncated=out.truncated or err.truncated,
        )

    def _command(self, argv, cwd, env, limit, out, err, stdin=None) -> tuple[dict, bool]:
        request = {"argv": argv, "cwd": cwd, "env": dict(env or {}), "timeout": limit}
        try:
            return self._channel.run(request, out, err, stdin, backstop=limit + BACKSTOP)
        except SandboxTimeout:
            self.remove()  # a runner that stopped answering leaves an unusable sandbox
            raise

    # -- files --------------------------------------------------------------------------
    def copy_in(self, src: str | Path, dest: str = WORKDIR) -> None:
        """Copy the contents of host directory `src` into container directory `dest`."""
        self._require()
        if not Path(src).is_dir():
            raise SandboxError(f"cannot copy in {src}: not a directory")
        data = transfer.pack(Path(src), self.config.transfer_limit_mb * 2**20)
        self._flush()
        self._pending = (data, dest)

    def _flush(self) -> None:
        """Extract a pending copy-in now (before anything reads the files)."""
        if self._pending is None:
            return
        (data, dest), self._pending = self._pending, None
        argv = ["sh", "-c", 'mkdir -p "$1" && tar -x -C "$1"', "sh", dest]
        out, err = self._streams(2**16)
        report, _ = self._command(argv, "/", None, 300, out, err, stdin=data)
        if report["code"] != 0:
            raise SandboxError(f"copy into {dest} failed: {err.text()[-200:].strip()}")

    def copy_out(self, src: str = WORKDIR, dest: str | Path = ".") -> transfer.CopyReport:
        """Copy container directory `src` into host directory `dest`, keeping only regular
        files and directories inside `dest`. Returns what it skipped (a list of names, with
        the reasons in `.skipped`): what the agent left never makes the copy raise."""
        self._require()
        self._flush()
        with self._read([(src, "")]) as (spool, report):
            return report.merge(transfer.unpack(spool, Path(dest), self._limit()))

    def copy_out_many(self, pairs: Mapping[str, str | Path]) -> transfer.CopyReport:
        """Copy several container directories (absolute paths) to host directories in one
        transfer; the same safety and report as `copy_out`."""
        self._require()
        self._flush()
        rels = [src.strip("/") for src in pairs]
        named = [(src, rel) for src, rel in zip(pairs, rels, strict=True)]
        with self._read(named) as (spool, report), tempfile.TemporaryDirectory() as tmp:
            report.merge(transfer.unpack(spool, Path(tmp), self._limit()))
            for rel, dest in zip(rels, pairs.values(), strict=True):
                Path(dest).mkdir(parents=True, exist_ok=True)
                if not (Path(tmp) / rel).is_dir():
                    continue  # unreadable at the source: the report names it
                for child in (Path(tmp) / rel).iterdir():
                    shutil.move(str(child), Path(dest) / child.name)
        return report

    def kill_all(self) -> bool:
        """Kill every process but the runner and wait until they are gone (False when some
        survive SIGKILL for 10 s). Before a copy-out: then no daemon changes the files or
        holds the pids the copy needs."""
        self._require()
        self._flush()
        out, err = self._streams(2**16)
        request = {"argv": [], "cwd": "/", "env": {}, "timeout": 60, "kill_first": True}
        try:
            report, _ = self._channel.run(request, out, err, None, backstop=60 + BACKSTOP)
        except SandboxTimeout:
            self.remove()
            raise
        self._oom_seen = report["oom_kills"]  # a daemon's OOM is no later command's
        return report["code"] == 0

    def read_file(self, path: str, limit: int = 2**20) -> bytes | None:
        """Up to `limit` bytes of one container file, or None when it is missing."""
        self._require()
        self._flush()
        out, err = self._streams(limit)
        report, _ = self._command(["head", "-c", str(limit), path], "/", None, 60, out, err)
        return _whole(out) if report["code"] == 0 else None

    def _limit(self) -> int:
        return self.config.transfer_limit_mb * 2**20

    @contextmanager
    def _read(
        self, pairs: list[tuple[str, str]]
    ) -> Iterator[tuple[transfer.Spool, transfer.CopyReport]]:
        """The packer's tar of (container dir, name in the stream) pairs, spooled (mostly on
        disk when large), and its report. Too big or too slow to pack is the content's
        fault: LimitExceeded."""
        with transfer.Spool(self._limit()) as spool:
            err = BoundedStream(None, 2**15, 2**20)
            argv = transfer.packer_argv(pairs)
            report, too_big = self._command(argv, "/", None, COPY_TIMEOUT, spool, err)
            if too_big:
                raise LimitExceeded(f"copy out exceeds {self.config.transfer_limit_mb} MB")
            if report["timed_out"]:
                raise LimitExceeded(f"copy out took longer than {COPY_TIMEOUT} s")
            if report["code"] != 0:
                lines = err.text().strip().splitlines() or ["the packer failed"]
                raise SandboxError(f"copy out failed: {lines[-1][:200]}")
            yield spool, transfer.packer_report(err.text())

    @staticmethod
    def _streams(limit: int) -> tuple[BoundedStream, BoundedStream]:
        """Streams that keep all of stdout up to `limit` bytes (and kill past it)."""
        return BoundedStream(None, limit, limit), BoundedStream(None, 2**15, 2**20)

    def _require(self) -> None:
        if self.container is None:
            raise SandboxError("the sandbox is not running (use it inside `with`)")


def _whole(stream: BoundedStream) -> bytes:
    """Every byte a stream kept (all of it when nothing overflowed)."""
    return bytes(stream.head) + b"".join(stream.tail)


def _remove(name: str) -> None:
    if engine.remove_and_wait([name]):
        _live.discard(name)


def wait_for_removals() -> None:
    """Block until every container handed to background removal is gone."""
    wait(list(_removing))


@atexit.register
def _remove_live() -> None:
    """Containers of an interpreter that exits without leaving their `with` blocks."""
    if _live:
        engine.remove_and_wait(sorted(_live), patience=30.0)
        _live.clear()
