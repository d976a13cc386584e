"""Run directories: where a run's frozen config, archive, logs and FM cache live."""

from __future__ import annotations

import fcntl
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from dgm.config import RunConfig
from dgm.errors import DgmError

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


def create_run(config: RunConfig) -> RunDir:
    """Make a fresh run directory with the frozen config; an existing one is an error."""
    name = config.name or default_name(config)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise RunError(f"run name '{name}' may hold only letters, digits, '_', '.' and '-'")
    root = Path(config.runs_dir) / name
    if root.exists():
        raise RunError(f"run '{root}' exists already (resume it with `dgm run --resume {root}`)")
    root.mkdir(parents=True)
    frozen = config.model_copy(update={"name": name})
    run = RunDir(root)
    run.config_file.write_text(frozen.to_toml())
    run.logs.mkdir()
    return run


def open_run(path: str | Path, runs_dir: Path = Path("runs")) -> RunDir:
    """A run by path, or by name under `runs_dir`."""
    root = Path(path)
    if not root.exists() and not root.is_absolute():
        root = runs_dir / path
    if not root.is_dir():
        raise RunError(f"no run at '{path}'")
    if not (root / CONFIG_FILE).is_file():
        raise RunError(f"'{path}' is not a run directory (no {CONFIG_FILE})")
    return RunDir(root)


def list_runs(runs_dir: Path) -> list[RunDir]:
    if not runs_dir.is_dir():
        return []
    found = [RunDir(p) for p in runs_dir.iterdir() if (p / CONFIG_FILE).is_file()]
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
