"""One sandbox session: a locked-down container, commands with limits, safe file transfer.

The container runs a tiny reaper as PID 1 that ends the container after the session timeout,
so even a host process killed with SIGKILL leaves nothing running for long (and
`remove_orphans` finds the rest by label).
"""

from __future__ import annotations

import atexit
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from sandbox import transfer
from sandbox.cleanup import SANDBOX_LABEL
from sandbox.config import FM_DIR, OUTDIR, TMPDIR, UID, WORKDIR, SandboxConfig
from sandbox.docker_cli import docker, docker_ok
from sandbox.errors import ImageMissing, LimitExceeded, SandboxError, SandboxTimeout
from sandbox.image import IMAGE_NAME
from sandbox.output import BoundedStream

# PID 1: reaps orphans (so zombies never fill the pids limit) and ends the session on time.
REAPER = (
    "import os,sys,time\n"
    "end=time.monotonic()+float(sys.argv[1])\n"
    "while time.monotonic()<end:\n"
    " try:\n"
    "  pid,_=os.waitpid(-1,os.WNOHANG)\n"
    "  pid or time.sleep(0.2)\n"
    " except ChildProcessError:\n"
    "  time.sleep(0.2)\n"
)
KILL_ALL = ["sh", "-c", "kill -9 -1"]  # as the sandbox user: every process but PID 1 and itself
OOM_PROBE = "cat /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events"
TIMEOUT_CODES = (124, 137)
COPY_FAILED, COPY_MARK = 199, b"dgm: copy-in failed"
# $1 is the destination; the rest is the command, run only once the files are in place.
EXTRACT_THEN_EXEC = (
    'mkdir -p "$1" && tar -x -C "$1" || { echo "dgm: copy-in failed" >&2; exit 199; }; '
    'shift; exec "$@"'
)  # `timeout` after TERM; after the KILL that follows it

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
        # A copy-in rides along with the next command (one `docker exec` instead of two);
        # anything else that looks at files extracts it first.
        self._pending: tuple[bytes, str] | None = None

    # -- life cycle ---------------------------------------------------------------------
    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    def start(self) -> None:
        docker_ok()
        c = self.config
        args = [
            "run", "-d", "--rm", "--name", self.name,
            "--network", "none", "--user", f"{UID}:{UID}", "--read-only",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--memory", f"{c.memory_mb}m", "--memory-swap", f"{c.memory_mb}m",
            "--cpus", str(c.cpus), "--pids-limit", str(c.pids),
            "--ulimit", "nofile=1024:1024", "--ulimit", "core=0",
            "--tmpfs", f"{TMPDIR}:rw,exec,nosuid,nodev,size={c.tmpfs_mb}m,mode=1777",
            "--tmpfs", f"{WORKDIR}:rw,exec,nosuid,nodev,size={c.workspace_mb}m,uid={UID},"
            f"gid={UID},mode=0755",
            "--tmpfs", f"{OUTDIR}:rw,noexec,nosuid,nodev,size={c.out_mb}m,uid={UID},"
            f"gid={UID},mode=0755",
            "--workdir", WORKDIR, "--label", f"{SANDBOX_LABEL}=1",
            # No container log: /proc/1/fd/1 would otherwise write without bound to the host.
            "--log-driver", "none", "--pull", "never",
        ]  # fmt: skip
        for key, value in self.labels.items():
            args += ["--label", f"{key}={value}"]
        for host, inside in self.ro_mounts.items():
            args += ["--mount", f"type=bind,source={host},target={inside},readonly"]
        for key, value in self.env.items():
            args += ["--env", f"{key}={value}"]
        image = c.image or IMAGE_NAME
        args += [image, "python3", "-c", REAPER, str(int(c.session_timeout))]
        _live.add(self.name)
        try:
            proc = docker(args, timeout=120)
        except subprocess.TimeoutExpired as exc:
            self.remove()
            raise SandboxTimeout("the sandbox container did not start within 120 s") from exc
        if proc.returncode != 0:
            _live.discard(self.name)
            err = proc.stderr.strip()
            if "No such image" in err or "Unable to find image" in err:
                raise ImageMissing(f"image {image} is missing; run `dgm sandbox build`")
            msg = err.splitlines()[-1] if err else "unknown error"
            raise SandboxError(f"could not start a sandbox: {msg[:300]}")
        self.container = proc.stdout.strip()

    def remove(self) -> None:
        """Remove the container (idempotent). With `background_removal` the caller goes on
        at once; `wait_for_removals()` (and interpreter exit) waits for it to finish."""
        self.container = None
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
    ) -> RunResult:
        """Run a command (argv, or a string for `sh -c`) as the sandbox user."""
        self._require()
        argv = ["sh", "-c", command] if isinstance(command, str) else list(command)
        limit = float(timeout or self.config.command_timeout)
        pending, self._pending = self._pending, None
        args = ["docker", "exec", *(["-i"] if pending else []), "-w", cwd]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        args.append(self.name)
        if pending:
            args += ["sh", "-c", EXTRACT_THEN_EXEC, "sh", pending[1]]
        # `timeout` inside kills the command's process group on time; the host deadline
        # below is only the backstop for a command that escapes it.
        args += ["timeout", "-k", "2", f"{limit:g}", *argv]
        start = time.monotonic()
        proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE if pending else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        if pending:
            threading.Thread(target=_feed, args=(proc.stdin, pending[0]), daemon=True).start()
        half = self.config.output_limit // 2
        out = BoundedStream(proc.stdout, half, self.config.output_kill)
        err = BoundedStream(proc.stderr, half, self.config.output_kill)
        readers = [threading.Thread(target=s.pump, daemon=True) for s in (out, err)]
        for t in readers:
            t.start()
        host_timed_out = killed_for_output = False
        while proc.poll() is None:
            if out.overflowed or err.overflowed:
                killed_for_output = True
            elif time.monotonic() - start <= limit + 10:
                time.sleep(0.01)
                continue
            else:
                host_timed_out = True
            self._kill_all()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            break
        proc.wait()
        for t in readers:
            t.join(timeout=5)
        duration = time.monotonic() - start
        code = proc.returncode
        if code in (125, 126, 127, 1) and b"No such container" in bytes(err.head):
            raise SandboxTimeout(
                "the sandbox ended (session timeout or removed) before the command"
            )
        if code == 1 and b"is not running" in bytes(err.head):
            raise SandboxTimeout(
                "the sandbox ended (session timeout or removed) before the command"
            )
        timed_out = host_timed_out or (code in TIMEOUT_CODES and duration >= limit - 0.05)
        if timed_out or killed_for_output:
            self._kill_all()  # stragglers that left the process group
        oom = (code == 137 and not timed_out and not killed_for_output) and self._oom_happened()
        return RunResult(
            exit_code=code,
            stdout=out.text(),
            stderr=err.text() + ("\n[killed: output limit exceeded]" if killed_for_output else ""),
            duration=duration,
            timed_out=timed_out,
            oom_killed=oom,
            output_truncated=out.truncated or err.truncated,
        )

    def _kill_all(self) -> None:
        docker(["exec", self.name, *KILL_ALL], timeout=30)

    def _oom_happened(self) -> bool:
        proc = docker(["exec", self.name, "sh", "-c", OOM_PROBE + " 2>/dev/null"], timeout=30)
        count = 0
        for line in proc.stdout.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                count = int(value)
        seen, self._oom_seen = self._oom_seen, count
        return count > seen

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
        quoted = shlex.quote(dest)
        proc = docker(
            ["exec", "-i", self.name, "sh", "-c", f"mkdir -p {quoted} && tar -x -C {quoted}"],
            input=data,
            timeout=300,
        )
        if proc.returncode != 0:
            raise SandboxError(f"copy into {dest} failed: {proc.stderr.decode()[-200:].strip()}")

    def copy_out(self, src: str = WORKDIR, dest: str | Path = ".") -> list[str]:
        """Copy container directory `src` into host directory `dest`, keeping only regular
        files and directories inside `dest`. Returns the names it refused."""
        self._require()
        self._flush()
        data = self._read(["tar", "-c", "-C", src, "."])
        return transfer.unpack(data, Path(dest))

    def copy_out_many(self, pairs: Mapping[str, str | Path]) -> list[str]:
        """Copy several container directories (absolute paths) to host directories in one
        transfer; the same safety as `copy_out`. Returns the names it refused."""
        self._require()
        self._flush()
        rels = [src.strip("/") for src in pairs]
        data = self._read(["tar", "-c", "-C", "/", *rels])
        with tempfile.TemporaryDirectory(prefix="dgm-copy-") as tmp:
            refused = transfer.unpack(data, Path(tmp))
            for rel, dest in zip(rels, pairs.values(), strict=True):
                Path(dest).mkdir(parents=True, exist_ok=True)
                for child in (Path(tmp) / rel).iterdir():
                    shutil.move(str(child), Path(dest) / child.name)
        return refused

    def read_file(self, path: str, limit: int = 2**20) -> bytes | None:
        """Up to `limit` bytes of one container file, or None when it is missing."""
        self._require()
        self._flush()
        proc = docker(["exec", self.name, "head", "-c", str(limit), path], input=b"", timeout=60)
        return proc.stdout if proc.returncode == 0 else None

    def _read(self, argv: list[str]) -> bytes:
        limit = self.config.transfer_limit_mb * 2**20
        proc = subprocess.Popen(
            ["docker", "exec", self.name, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert proc.stdout is not None
        data = proc.stdout.read(limit + 1)
        if len(data) > limit:
            proc.kill()
            proc.wait()
            raise LimitExceeded(f"copy out exceeds {self.config.transfer_limit_mb} MB")
        proc.wait(timeout=300)
        if proc.returncode != 0:
            assert proc.stderr is not None
            err = proc.stderr.read().decode(errors="replace").strip().splitlines()
            raise SandboxError(f"copy out failed: {(err or ['tar failed'])[-1][:200]}")
        return data

    def _require(self) -> None:
        if self.container is None:
            raise SandboxError("the sandbox is not running (use it inside `with`)")


def _feed(pipe, data: bytes) -> None:
    """Write a tar to a command's stdin and close it (a thread: the pipe may be slow)."""
    try:
        pipe.write(data)
    except (BrokenPipeError, OSError):
        pass  # the container went away; run() reports that
    finally:
        try:
            pipe.close()
        except OSError:
            pass


def _remove(name: str) -> None:
    docker(["rm", "-f", name], timeout=120)
    _live.discard(name)


def wait_for_removals() -> None:
    """Block until every container handed to background removal is gone."""
    wait(list(_removing))


@atexit.register
def _remove_live() -> None:
    """Containers of an interpreter that exits without leaving their `with` blocks."""
    if _live:
        docker(["rm", "-f", *sorted(_live)], timeout=120)
        _live.clear()
