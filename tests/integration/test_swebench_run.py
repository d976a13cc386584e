"""A whole `dgm run --benchmark swebench` with `sim` on two shared instances, in real Docker:
it finishes, and a run SIGKILLed in the middle of an evaluation resumes and finishes with
every committed result kept."""

from __future__ import annotations

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

SHARED = Path(__file__).resolve().parents[3] / "shared" / "swebench"
pytestmark = [
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.skipif(
        not (SHARED / "instances.jsonl").is_file(), reason=f"no shared SWE-bench data at {SHARED}"
    ),
]
DGM = [sys.executable, "-m", "dgm"]
INSTANCES = ["psf__requests-3362", "sympy__sympy-21614"]
RUN_TOML = f"""\
benchmark = "swebench"
benchmark_path = "{SHARED}"
subset = "two.txt"
policy = "hgm"
model = "sim"
workers = 1
seed = 3
final_eval = false

[budget]
evals = 4
expansions = 2
"""


def dgm(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "120"}
    proc = subprocess.run(
        [*DGM, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=1800
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"dgm {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def evaluations(run_dir: Path) -> set[tuple[int, str, str]]:
    return {(e.node, e.task, e.outcome) for e in Archive.open(run_dir).evaluations()}


def solving(run: str) -> bool:
    out = subprocess.run(
        ["docker", "ps", "--filter", f"label=dgm.run={run}", "--filter", "label=dgm.role=solve",
         "--format", "{{.ID}}"],
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    return bool(out.strip())


def eval_count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("select count(*) from evaluations").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


@pytest.fixture()
def workdir(tmp_path, docker_daemon):
    (tmp_path / "two.txt").write_text("\n".join(INSTANCES) + "\n")
    (tmp_path / "run.toml").write_text(RUN_TOML)
    return tmp_path


def test_a_swebench_run_finishes_and_resumes_after_sigkill(workdir):
    run_dir, db = workdir / "runs" / "sw", workdir / "runs" / "sw" / "archive.db"
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    proc = subprocess.Popen(
        [*DGM, "run", "--config", "run.toml", "--name", "sw"],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:  # killed while an agent works on an instance, after one result is committed
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and proc.poll() is None:
            if eval_count(db) >= 1 and solving("sw"):
                break
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    committed = evaluations(run_dir)
    assert committed, "nothing was committed before the kill"

    dgm("run", "--resume", "sw", cwd=workdir)
    archive = Archive.open(run_dir)
    assert archive.check() == []
    final = evaluations(run_dir)
    assert committed <= final, "a committed evaluation was lost"
    assert {t for _, t, _ in final} <= set(INSTANCES)
    assert {o for _, _, o in final} <= {"resolved", "unresolved", "empty", "error"}
    assert "resolved" in {o for _, _, o in final}, final  # sim applies the gold patch
    assert archive.get_state("finished") is not None
    assert containers("sw") == []
    logs = list(run_dir.glob("logs/node-*/*/grading.txt"))
    assert logs and any("hidden tests:" in p.read_text() for p in logs)
    shown = dgm("show", "runs/sw", "0", cwd=workdir).stdout
    assert "swebench" in shown
