"""The evolution loop end to end: real Docker, real git, the `sim` model through litellm."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive import Archive
from tests.sandbox.helpers import containers_of as containers

pytestmark = [pytest.mark.docker, pytest.mark.slow]

DGM = [sys.executable, "-m", "dgm"]


def dgm(*args: str, cwd: Path, check: bool = True, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "120"}
    proc = subprocess.run(
        [*DGM, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900, **kw
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"dgm {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def outcomes(archive: Archive) -> list[tuple[int, str, str]]:
    return sorted((e.node, e.task, e.outcome) for e in archive.evaluations())


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, docker_daemon):
    """One real run, shared by the assertions below: 8+ expansions with `sim`."""
    cwd = tmp_path_factory.mktemp("e2e")
    # Broken changes drawn about half the time (not 1 in 10), so that a 2-worker run, whose
    # order varies, has invalid children to show with near certainty; a hanging one costs
    # the validation timeout, so keep that short (a sound child validates in about 1.5 s).
    (cwd / "e2e.toml").write_text("sim_broken_weight = 1.5\nvalidate_timeout = 8\n")
    dgm(
        "run", "--config", "e2e.toml", "--name", "e2e", "--seed", "3", "--workers", "2",
        "--budget-evals", "40", "--policy", "hgm", cwd=cwd,
    )  # fmt: skip
    return cwd, Archive.open(cwd / "runs" / "e2e")


def test_run_grows_a_tree_whose_best_beats_the_seed(demo_run):
    cwd, archive = demo_run
    nodes = archive.nodes()
    expansions = [n for n in nodes if n.parent is not None]
    assert len(expansions) >= 8
    state = archive.get_state("finished")
    final = state["final"]
    tasks = {e.task for e in archive.evaluations(0)}
    score = {
        n: sum(e.outcome == "resolved" for e in archive.evaluations(n) if e.task in tasks)
        for n in (0, final)
    }
    assert final != 0 and score[final] > score[0], score
    assert archive.node(final).status == "valid"


def test_invalid_children_are_recorded_with_reasons(demo_run):
    """Which validation rejects each broken change is pinned, change by change, in
    test_validate_catalogue.py; here the loop records the rejects."""
    _, archive = demo_run
    assert {n.status for n in archive.nodes()} <= {"valid", "invalid"}
    invalid = [n for n in archive.nodes() if n.status == "invalid"]
    assert invalid, "sim proposes broken changes about half the time here"
    assert all(n.reason for n in invalid)
    assert not any(n.parent in {i.id for i in invalid} for n in archive.nodes())


def test_archive_is_sound_and_no_container_is_left(demo_run):
    _, archive = demo_run
    assert archive.check() == []
    assert containers("e2e") == []


def test_browse_commands_work_on_the_run(demo_run):
    cwd, archive = demo_run
    final = archive.get_state("finished")["final"]
    tree = dgm("tree", "runs/e2e", cwd=cwd).stdout
    assert "0" in tree
    changed = [f[0] for f in archive.diff(0, final).files]
    out = dgm("diff", "runs/e2e", "0", str(final), cwd=cwd).stdout
    assert changed and all(path in out for path in changed)
    assert f"{final}" in dgm("show", "runs/e2e", str(final), cwd=cwd).stdout


def _wait_for(predicate, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("the run never reached the point to kill it at")


def _eval_count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("select count(*) from evaluations").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _running(run: str, task_prefix: str) -> bool:
    out = subprocess.run(
        ["docker", "ps", "--filter", f"label=dgm.run={run}", "--format", "{{json .Labels}}"],
        capture_output=True,
        text=True,
    ).stdout
    return any(f"dgm.task={task_prefix}" in line for line in out.splitlines())


def test_sigkill_and_resume_keep_every_committed_result(tmp_path, docker_daemon):
    run, db = "killed", tmp_path / "runs" / "killed" / "archive.db"
    args = ["run", "--name", run, "--seed", "5", "--workers", "2", "--budget-evals", "24"]
    points = [
        ("an evaluation", lambda: _running(run, "HumanEval")),
        ("an expansion", lambda: _running(run, "expansion")),
        ("between", lambda: _eval_count(db) >= 14),
    ]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    committed: set[tuple[int, str, str]] = set()
    for i, (where, point) in enumerate(points):
        cmd = [*DGM, *args] if i == 0 else [*DGM, "run", "--resume", run]
        proc = subprocess.Popen(
            cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            _wait_for(lambda p=proc, at=point: at() or p.poll() is not None)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert proc.returncode == -signal.SIGKILL, f"the run ended before {where}"
        now = set(outcomes(Archive.open(tmp_path / "runs" / run)))
        assert committed <= now, f"a committed evaluation was lost (killed during {where})"
        committed = now
    dgm("run", "--resume", run, cwd=tmp_path)
    archive = Archive.open(tmp_path / "runs" / run)
    assert archive.check() == []
    final = outcomes(archive)
    assert committed <= set(final), "a committed evaluation was lost"
    pairs = [(n, t) for n, t, _ in final]
    assert len(pairs) == len(set(pairs)), "an evaluation was duplicated"
    assert containers(run) == []
    proc = dgm("run", "--resume", run, cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "has finished" in proc.stderr


def _tree(cwd: Path, name: str) -> list[tuple]:
    archive = Archive.open(cwd / "runs" / name)
    nodes = [(n.id, n.parent, n.commit, n.status) for n in archive.nodes()]
    return [json.dumps(sorted(nodes)), outcomes(archive)]


def test_same_seed_one_worker_gives_the_same_tree(tmp_path, docker_daemon):
    args = ["--seed", "7", "--workers", "1", "--budget-evals", "10"]
    dgm("run", "--name", "a", *args, cwd=tmp_path)
    dgm("run", "--name", "b", *args, cwd=tmp_path)
    assert _tree(tmp_path, "a") == _tree(tmp_path, "b")


def test_meta_agent_mode_runs_the_parents_own_improve(tmp_path, docker_daemon):
    """Hyperagent mode: the parent's own `improve` command writes its problem statement from
    the evidence the loop hands it, and that evidence never holds hidden tests."""
    dgm(
        "run", "--name", "meta", "--meta", "agent", "--seed", "1", "--budget-evals", "20",
        "--budget-expansions", "3", cwd=tmp_path,
    )  # fmt: skip
    run = tmp_path / "runs" / "meta"
    archive = Archive.open(run)
    assert len(archive.nodes()) == 4 and archive.check() == []
    logs = sorted((run / "logs").glob("expansion-*.md"))
    assert logs, "every expansion that got past its diagnosis leaves a transcript"
    for log in logs:
        text = log.read_text()
        assert text.count("# Improve this coding agent") == 1 and "# Evidence" in text
        assert "def check(candidate)" not in text  # HumanEval's hidden tests
    assert containers("meta") == []
