"""Creating a run is atomic, and the dead ends older versions left are recognised: removed
(a fresh start of the same name) or completed (a resume). Real git and SQLite; the kills
are real SIGKILLs of a child process at injected points."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from archive import Archive
from dgm.run import lifecycle as runner
from dgm.run.config import RunConfig
from dgm.run.rundir import (
    RunError,
    create_run,
    is_complete,
    is_dead_end,
    list_runs,
    open_run,
    root_missing,
    sweep_partial,
)

REPO = str(Path(__file__).resolve().parents[2])
# A child that creates a run (real archive) and is killed at the point DGM_KILL_AT names.
CREATE = (
    "import sys; sys.path.insert(0, sys.argv[1]); from dgm.run.config import RunConfig; "
    "from dgm.run.rundir import create_run; from archive import Archive; "
    "seed = sys.argv[1] + '/dgm/seed_agent'; "
    "create_run(RunConfig(name='r', runs_dir=sys.argv[2]), "
    "lambda run: Archive.create(run.root, seed).close())"
)


def config(runs: Path, name: str = "r") -> RunConfig:
    return RunConfig(name=name, runs_dir=runs)


def create_in_child(runs: Path, kill_at: str | None) -> int:
    env = {k: v for k, v in os.environ.items() if k != "DGM_KILL_AT"}
    if kill_at:
        env["DGM_KILL_AT"] = kill_at
    proc = subprocess.run(
        [sys.executable, "-c", CREATE, REPO, str(runs)], env=env, capture_output=True, text=True
    )
    return proc.returncode


@pytest.mark.parametrize("point", ["run-config", "run-built"])
def test_a_kill_before_the_rename_leaves_no_run_and_the_next_start_sweeps(
    tmp_path: Path, point: str
) -> None:
    runs = tmp_path / "runs"
    assert create_in_child(runs, point) == -signal.SIGKILL
    assert not (runs / "r").exists()
    partial = list(runs.glob(".creating-r.*"))
    assert len(partial) == 1 and (partial[0] / "config.toml").is_file()
    assert list_runs(runs) == [], "a run being made is listed as a run"
    run = create_run(config(runs), runner.build_archive)  # the next start sweeps it first
    assert list(runs.glob(".creating-*")) == []
    assert is_complete(run.root)
    archive = Archive.open(run.root)
    assert archive.check() == [] and archive.root().id == 0
    archive.close()


def test_a_kill_after_the_rename_leaves_a_complete_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    assert create_in_child(runs, "run-renamed") == -signal.SIGKILL
    assert is_complete(runs / "r") and list(runs.glob(".creating-*")) == []
    with pytest.raises(RunError, match="exists already"):
        create_run(config(runs), runner.build_archive)


def test_a_partial_of_a_live_maker_is_kept(tmp_path: Path) -> None:
    from sandbox import cleanup

    runs = tmp_path / "runs"
    runs.mkdir()
    mine = runs / f".creating-x.{cleanup.stamp()}"
    mine.mkdir()
    foreign = runs / ".creating-y.1-abc~ffffffff"  # another TMPDIR's maker: young, kept
    foreign.mkdir()
    assert sweep_partial(runs) == 0
    assert mine.is_dir() and foreign.is_dir()


def _older_version_dead_end(root: Path, with_config: bool, empty_db: bool) -> None:
    """What the old `create_run` left when killed: mkdir, config, logs, then part of the
    archive (a database without its root node)."""
    root.mkdir(parents=True)
    if with_config:
        (root / "config.toml").write_text(config(root.parent, root.name).to_toml())
        (root / "logs").mkdir()
    if empty_db:
        (root / "archive.git").mkdir()
        con = sqlite3.connect(root / "archive.db")
        con.execute("CREATE TABLE nodes (id INTEGER PRIMARY KEY)")
        con.commit()
        con.close()
    elif with_config:
        (root / "archive.db").write_bytes(b"")  # killed right after SQLite made the file


@pytest.mark.parametrize(("with_config", "empty_db"), [(False, False), (True, False), (True, True)])
def test_a_fresh_start_removes_an_older_dead_end_with_one_line(
    tmp_path: Path, capsys, with_config: bool, empty_db: bool
) -> None:
    runs = tmp_path / "runs"
    _older_version_dead_end(runs / "r", with_config, empty_db)
    assert is_dead_end(runs / "r") and not is_complete(runs / "r")
    run = create_run(config(runs), runner.build_archive)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "half-made" in err[0]
    assert is_complete(run.root)


def test_a_resume_of_a_dead_end_without_config_removes_it_and_says_so(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _older_version_dead_end(runs / "r", with_config=False, empty_db=False)
    with pytest.raises(RunError, match="half-made.*removed it; start the run again"):
        runner.resume("r", Console(file=open(os.devnull, "w")), runs)  # noqa: SIM115
    assert not (runs / "r").exists()


def test_a_dead_end_with_config_is_completed_for_its_resume(tmp_path: Path) -> None:
    """The archive is rebuilt with its root (a whole resume of such a run runs in
    tests/integration/test_kill.py)."""
    runs = tmp_path / "runs"
    _older_version_dead_end(runs / "r", with_config=True, empty_db=True)
    out = Console(record=True, width=200)
    run = open_run("r", runs)
    assert runner.complete_dead_end(run, out) is True
    assert "completing" in out.export_text()
    assert is_complete(run.root) and not runner.complete_dead_end(run, out)
    archive = Archive.open(run.root)
    assert archive.check() == [] and [n.id for n in archive.nodes()] == [0]
    archive.close()


def test_a_damaged_archive_is_never_taken_for_a_dead_end(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _older_version_dead_end(runs / "r", with_config=True, empty_db=False)
    (runs / "r" / "archive.db").write_bytes(b"not a database" * 100)
    assert not is_dead_end(runs / "r")
    with pytest.raises(RunError, match="exists already"):
        create_run(config(runs), runner.build_archive)
    assert (runs / "r" / "archive.db").is_file()


def test_something_that_is_not_a_run_is_never_removed(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    (runs / "r").mkdir(parents=True)
    (runs / "r" / "precious.txt").write_text("mine")
    assert not is_dead_end(runs / "r")
    with pytest.raises(RunError, match="not a run directory"):
        create_run(config(runs), runner.build_archive)
    assert (runs / "r" / "precious.txt").read_text() == "mine"


def test_an_archive_with_nodes_is_never_rebuilt(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run = create_run(config(runs), runner.build_archive)
    shutil.rmtree(run.root / "archive.git")  # damaged, not half-made: its nodes stay
    with pytest.raises(RunError, match="damaged"):
        runner.complete_dead_end(run, Console(record=True))
    assert not root_missing(run.root)
