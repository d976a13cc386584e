"""Run directories: creation, opening, names, and the one-driver lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive import Archive
from dgm.run.config import RunConfig
from dgm.run.rundir import RunError, RunLock, create_run, is_complete, list_runs, open_run

SEED = Path(__file__).resolve().parents[2] / "dgm" / "seed_agent"


def make(cfg: RunConfig):
    """A run as `dgm run` makes one: config, logs, the archive with its root."""
    return create_run(cfg, lambda run: Archive.create(run.root, SEED).close())


def test_create_open_and_list(tmp_path):
    cfg = RunConfig(name="r1", runs_dir=tmp_path)
    run = make(cfg)
    assert run.config_file.is_file() and run.logs.is_dir() and is_complete(run.root)
    assert open_run("r1", tmp_path).root == run.root
    assert open_run(run.root).load_config().name == "r1"
    assert [r.run_id for r in list_runs(tmp_path)] == ["r1"]
    with pytest.raises(RunError, match="exists already"):
        make(cfg)


def test_bad_names_and_unknown_runs(tmp_path):
    with pytest.raises(RunError, match="may hold only"):
        make(RunConfig(name="../escape", runs_dir=tmp_path))
    with pytest.raises(RunError, match="no run"):
        open_run("missing", tmp_path)
    (tmp_path / "plain").mkdir()
    with pytest.raises(RunError, match="not a run directory"):
        open_run(tmp_path / "plain")


def test_lock_admits_one_driver(tmp_path):
    run = make(RunConfig(name="r2", runs_dir=tmp_path))
    with RunLock(run) as lock:
        assert lock.holder() is not None
        with pytest.raises(RunError, match="another process"), RunLock(run):
            pass
    assert RunLock(run).holder() is None
