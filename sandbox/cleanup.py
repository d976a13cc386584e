"""Nothing of dgm's outlives its owner: per-process scratch roots, owned containers, sweeps.

Every process that runs sandboxes owns a scratch root, `<system tmp>/dgm-<uid>/<pid>-<hex>`,
and holds an flock on it for its whole life: the kernel drops the lock when the process
dies, SIGKILL included, so "is the owner alive" is exact (no pid reuse guesswork). Its
containers carry the root as the label `dgm.owner`; its temporary folders live inside it.
`sweep()` removes the containers and scratch roots whose lock nobody holds. A container
killed between `docker create` and its start (state Created) has no runner to end it: only
this finds it.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sandbox import engine
from sandbox.engine import exists, remove_and_wait  # noqa: F401  (part of this API)
from sandbox.errors import SandboxError

SANDBOX_LABEL = "dgm.sandbox"
OWNER_LABEL = "dgm.owner"
# Captured before anyone points `tempfile.tempdir` at a scratch root: roots and
# cross-process lock files must be found by every dgm process of this user.
SYSTEM_TMP = Path(tempfile.gettempdir())
SCRATCH_BASE = SYSTEM_TMP / f"dgm-{os.getuid()}"
if len(str(SCRATCH_BASE)) > 48 and os.access("/tmp", os.W_OK):
    # Sockets live two levels below (a Unix socket path holds at most 107 bytes).
    SCRATCH_BASE = Path("/tmp") / f"dgm-{os.getuid()}"
_NEW = ".new-"  # a root being made: locked before it is renamed to its final name
STALE_NEW = 600  # seconds after which an unlocked half-made root is certainly dead
KILL_ENV = "DGM_KILL_AT"


def kill_point(name: str) -> None:
    """SIGKILL this process when `DGM_KILL_AT` names this point: the tests use it to die at
    exact moments (after a container's create, half-way through making a run)."""
    if os.environ.get(KILL_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Owner:
    """This process's scratch root and the open descriptor that holds its lock."""

    path: Path
    pid: int
    fd: int

    @property
    def token(self) -> str:
        """The root's name, `<pid>-<hex>`: enough to find it under SCRATCH_BASE."""
        return self.path.name

    @property
    def label(self) -> str:
        """The `dgm.owner` label: host and root (a container seen from another host, or
        another mount namespace, is never judged by a path that is not its owner's)."""
        return f"{socket.gethostname()}:{self.path}"


_owner: Owner | None = None
_owner_lock = threading.Lock()
_swept_pid: int | None = None
roots_removed = 0  # by this process's sweeps, all told (`dgm sandbox clean` reports it)


def _base() -> Path:
    SCRATCH_BASE.mkdir(mode=0o700, exist_ok=True)
    if SCRATCH_BASE.stat().st_uid != os.getuid():  # someone else's folder in a shared /tmp
        raise SandboxError(f"{SCRATCH_BASE} belongs to another user; remove it or set TMPDIR")
    return SCRATCH_BASE


def owner() -> Owner:
    """This process's scratch root, made (and locked) on first use; a forked child gets its
    own. The root is renamed into place only once locked, so no sweep sees it unlocked."""
    global _owner
    with _owner_lock:
        if _owner is not None and _owner.pid == os.getpid():
            return _owner
        base = _base()
        pid = os.getpid()
        tmp = Path(tempfile.mkdtemp(prefix=f"{_NEW}{pid}-", dir=base))
        fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        final = base / tmp.name[len(_NEW) :]
        os.rename(tmp, final)
        _owner = Owner(final, os.getpid(), fd)
        return _owner


def use_for_tempfiles() -> Path:
    """Point every later `tempfile` call of this process at its scratch root, so a killed
    process leaves its temporary folders where the next sweep finds them."""
    root = owner().path
    tempfile.tempdir = str(root)
    return root


@atexit.register
def _release() -> None:
    """Remove this process's scratch root at a normal exit (a kill leaves it to a sweep).
    Registered at import, before the session module's hook, so it runs after it."""
    own = _owner
    if own is None or own.pid != os.getpid():
        return
    if tempfile.tempdir == str(own.path):
        tempfile.tempdir = None
    shutil.rmtree(own.path, ignore_errors=True)
    os.close(own.fd)


def _try_lock(path: Path) -> int | None:
    """An fd holding the lock of root `path` when its owner is gone; None when it lives
    (or the root is already gone)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def owner_alive(token: str) -> bool | None:
    """Whether the owner of scratch root `token` (see `Owner.token`) still runs: None when
    no such root is here (it may belong to another TMPDIR or have ended cleanly)."""
    path = SCRATCH_BASE / token
    if not path.is_dir():
        return None
    if _owner is not None and _owner.path == path and _owner.pid == os.getpid():
        return True
    fd = _try_lock(path)
    if fd is None:
        return path.is_dir()
    os.close(fd)
    return False


def _base_tag() -> str:
    return hashlib.sha1(str(SCRATCH_BASE).encode()).hexdigest()[:8]


def stamp() -> str:
    """This process as a name fragment (`<token>~<base tag>`, no dots) for things it makes
    elsewhere, such as a run directory under construction; see `stamp_alive`."""
    return f"{owner().token}~{_base_tag()}"


def stamp_alive(stamp: str) -> bool | None:
    """Whether the maker named by `stamp` still runs: None when it used another TMPDIR
    (its root cannot be looked at from here)."""
    token, _, tag = stamp.partition("~")
    if tag != _base_tag():
        return None
    return bool(owner_alive(token))  # a root goes only once its owner has ended


def _label_alive(label: str, mine: str | None, host: str) -> bool:
    """Whether the owner a container's `dgm.owner` label names is still alive."""
    where, _, path = label.partition(":")
    if where != host or not path.startswith("/"):
        return True  # not ours to judge
    if label == mine:
        return True
    root = Path(path)
    if not root.is_dir():
        return False  # a root goes only once its owner ended (or a sweep found it dead)
    fd = _try_lock(root)
    if fd is None:
        return root.is_dir()
    os.close(fd)
    return False


def sweep() -> tuple[int, int]:
    """Remove the containers and scratch roots of dgm processes that are gone; returns how
    many of each. Containers of live processes (and unlabelled ones) are never touched."""
    global _swept_pid
    _swept_pid = os.getpid()
    mine = _owner.label if _owner is not None and _owner.pid == os.getpid() else None
    host = socket.gethostname()
    dead: list[str] = []
    for summary in engine.list_labelled(f"{SANDBOX_LABEL}=1"):
        label = ((summary.get("Labels") or {}).get(OWNER_LABEL) or "").strip()
        if label and not _label_alive(label, mine, host):
            dead.append(summary["Id"])
    removed = _remove_all(dead)
    return removed, sweep_roots()


def sweep_once() -> None:
    """`sweep()` the first time this process starts a sandbox."""
    if _swept_pid != os.getpid():
        sweep()


def sweep_roots() -> int:
    """Remove the scratch roots (with their sockets and temporary folders) of dgm processes
    that are gone. No Docker needed."""
    global roots_removed
    if not SCRATCH_BASE.is_dir():
        return 0
    count = 0
    for entry in SCRATCH_BASE.iterdir():
        if _owner is not None and entry == _owner.path:
            continue
        if not entry.is_dir() or (entry.name.startswith(_NEW) and not _new_is_dead(entry)):
            continue
        fd = _try_lock(entry)
        if fd is None:
            continue
        try:
            shutil.rmtree(entry, ignore_errors=True)
            count += not entry.exists()
        finally:
            os.close(fd)
    roots_removed += count
    return count


def _new_is_dead(entry: Path) -> bool:
    """A root killed between its mkdtemp and its lock: its maker's pid is gone (or, should
    that pid be reused, the folder is old)."""
    pid = entry.name[len(_NEW) :].partition("-")[0]
    try:
        if time.time() - entry.stat().st_mtime > STALE_NEW:
            return True
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (OSError, ValueError):
        return False
    return False


def _remove_all(ids: list[str]) -> int:
    if ids:
        remove_and_wait(ids)
    return len(ids)


def list_containers(run: str | None = None) -> list[str]:
    """Ids of dgm sandbox containers (of one run when `run` is given), running or not."""
    label = f"dgm.run={run}" if run else SANDBOX_LABEL
    return [summary["Id"] for summary in engine.list_labelled(label)]


def remove_orphans(run: str | None = None) -> int:
    """Force-remove the run's sandbox containers (every dgm sandbox, of live processes
    too, when run is None: `dgm sandbox clean --all`)."""
    return _remove_all(list_containers(run))
