"""Run directories: where a run's frozen config, archive, logs and FM cache live."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dgm.defaults import RUNS_DIR
from dgm.errors import DgmError
from dgm.run.config import RunConfig
from sandbox import cleanup
from sandbox.cleanup import kill_point

CONFIG_FILE = "config.toml"


class RunError(DgmError):
    """An unknown run, a directory that is not a run, or a run already in use."""


@dataclass(frozen=True)
class RunDir:
    """The layout of one run directory."""

    root: Path

    @property
    def config_file(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def fm_cache(self) -> Path:
        return self.root / "fm-cache"

    @property
    def agents(self) -> Path:
        """Materialised agent sources, one directory per node, mounted read-only."""
        return self.root / "agents"

    @property
    def run_id(self) -> str:
        return self.root.name

    def load_config(self) -> RunConfig:
        return RunConfig.load(self.config_file)

    def agent_dir(self, node: int) -> Path:
        return self.agents / str(node)


def default_name(config: RunConfig) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"{config.policy}-{config.benchmark}-{stamp}"


PARTIAL = ".creating-"  # a run being made: `.creating-<name>.<stamp of its maker>`


def create_run(config: RunConfig, build: Callable[[RunDir], None]) -> RunDir:
    """Make a run directory atomically: built under a hidden name in the same parent (the
    frozen config, logs, then whatever `build` adds: the archive with its root) and renamed
    into place, so a run directory is either complete or absent whenever the process dies.
    An existing complete run is an error; a dead end an older version left is removed."""
    name = config.name or default_name(config)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise RunError(f"run name '{name}' may hold only letters, digits, '_', '.' and '-'")
    parent = Path(config.runs_dir)
    parent.mkdir(parents=True, exist_ok=True)
    sweep_partial(parent)
    root = parent / name
    if root.exists():
        _remove_dead_end(root)
    tmp = parent / f"{PARTIAL}{name}.{cleanup.stamp()}"
    tmp.mkdir()
    try:
        run = RunDir(tmp)
        frozen = config.model_copy(update={"name": name})
        run.config_file.write_text(frozen.to_toml())
        kill_point("run-config")
        run.logs.mkdir()
        build(run)
        kill_point("run-built")
        if root.exists():  # made by another process meanwhile
            raise RunError(
                f"run '{root}' exists already (resume it with `dgm run --resume {root}`)"
            )
        os.rename(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    kill_point("run-renamed")
    return RunDir(root)


LAYOUT = {CONFIG_FILE, "logs", "archive.git", "archive.db", "archive.db-wal", "archive.db-shm",
          "archive.db-journal", ".lock", "fm-cache", "agents"}  # fmt: skip


def _remove_dead_end(root: Path) -> None:
    """Refuse an existing run; remove, with one line, a directory a killed start of an older
    version left without an archive root (nothing was ever recorded in it)."""
    if not is_dead_end(root):
        if root.is_dir() and not {p.name for p in root.iterdir()} <= LAYOUT:
            raise RunError(f"'{root}' exists and is not a run directory")
        raise RunError(_exists(root))
    print(f"removed '{root}': a run directory left half-made by a killed start", file=sys.stderr)
    shutil.rmtree(root)


def _exists(root: Path) -> str:
    return f"run '{root}' exists already (resume it with `dgm run --resume {root}`)"


def is_dead_end(root: Path) -> bool:
    """A directory holding only a run's layout, no archive root, and no process driving it:
    what a start killed before atomic creation left behind."""
    if not root.is_dir() or not {p.name for p in root.iterdir()} <= LAYOUT:
        return False
    if (root / "archive.db").is_file() and not root_missing(root):
        return False
    return RunLock(RunDir(root)).holder() is None


def is_complete(root: Path) -> bool:
    """A run directory that holds its config, both halves of its archive and the root node."""
    if not (root / CONFIG_FILE).is_file() or not (root / "archive.git").is_dir():
        return False
    return (root / "archive.db").is_file() and not root_missing(root)


def root_missing(root: Path) -> bool:
    """The archive database has no root node (or no nodes table, or is an empty file): the
    archive's creation was cut short, so nothing was ever recorded in it. Any other trouble
    (a damaged file) is not taken for that: such a directory is never removed."""
    try:
        con = sqlite3.connect(f"file:{root / 'archive.db'}?mode=ro", uri=True, timeout=30)
        try:
            return con.execute("SELECT 1 FROM nodes WHERE id = 0").fetchone() is None
        finally:
            con.close()
    except sqlite3.OperationalError as exc:
        return "no such table" in str(exc)
    except sqlite3.Error:
        return False


def sweep_partial(parent: Path) -> int:
    """Remove run directories whose creation was cut short: their maker is gone (its
    scratch root unlocked), or unknown here and the folder is over a day old."""
    count = 0
    for entry in parent.glob(f"{PARTIAL}*"):
        alive = cleanup.stamp_alive(entry.name.rpartition(".")[2])
        if alive is None:
            try:
                alive = time.time() - entry.stat().st_mtime < 86400
            except FileNotFoundError:
                continue
        if not alive:
            shutil.rmtree(entry, ignore_errors=True)
            count += 1
    return count


def run_path(path: str | Path, runs_dir: Path = RUNS_DIR) -> Path:
    """Where a run given by path, or by name under `runs_dir`, would be (it may not exist)."""
    root = Path(path)
    return runs_dir / path if not root.exists() and not root.is_absolute() else root


def find_run(path: str | Path, runs_dir: Path = RUNS_DIR) -> Path:
    """The folder of a run given by path, or by name under `runs_dir`; the one error every
    command gives for a run that is not there."""
    root = run_path(path, runs_dir)
    if not root.is_dir():
        raise RunError(f"no run '{path}' (neither a path nor a name under {runs_dir}/)")
    return root


def open_run(path: str | Path, runs_dir: Path = RUNS_DIR) -> RunDir:
    """A run by path, or by name under `runs_dir`."""
    root = find_run(path, runs_dir)
    if not (root / CONFIG_FILE).is_file():
        raise RunError(f"'{path}' is not a run directory (no {CONFIG_FILE})")
    return RunDir(root)


def list_runs(runs_dir: Path) -> list[RunDir]:
    if not runs_dir.is_dir():
        return []
    found = [
        RunDir(p)
        for p in runs_dir.iterdir()
        if not p.name.startswith(".") and (p / CONFIG_FILE).is_file()  # not one being made
    ]
    return sorted(found, key=lambda r: r.config_file.stat().st_mtime)


class RunLock:
    """One process drives a run at a time: an flock on a file in the run directory."""

    def __init__(self, run: RunDir):
        self.path = run.root / ".lock"
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self._fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise RunError(f"run '{self.path.parent}' is being driven by another process") from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, str(os.getpid()).encode())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)

    def holder(self) -> int | None:
        """The pid driving the run, or None when nobody holds the lock."""
        try:
            fd = os.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode().strip()
            return int(text) if text.isdigit() else -1
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)
