"""Kills at any moment of a run's start-up leave no dead end and nothing behind.

Real `dgm run` subprocesses with `sim` are SIGKILLed at injected points (`DGM_KILL_AT`) and
at increasing delays after their run directory first appears, up to the first committed
evaluation; the next command (a resume, or a fresh start when no run exists) must finish,
with `check()` clean and no container or temporary folder of theirs left. Every process of
a test gets its own TMPDIR, so what the test counts is only its own.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from archive import Archive

pytestmark = [pytest.mark.docker, pytest.mark.slow]

RUN_TOML = """\
benchmark = "humaneval"
subset = "small"
policy = "hgm"
model = "sim"
workers = 1
seed = 5
final_eval = false

[budget]
evals = 2
expansions = 1
"""
# Where a kill lands: an injected point, or a delay after the run's directory first appears
# (None: once the first evaluation is committed). The points before the rename are also
# killed in-process in test_kill_rundir.py.
INJECTED = ("run-renamed", "container-created")
DELAYS = (0.0, 0.01, 0.05, 0.2, None)
PARALLEL = 3  # scenarios at once: each has its own TMPDIR and runs directory
TIMEOUT = 300


class Place:
    """A work directory with the run config, and a short private TMPDIR (sockets live under
    it: a Unix socket path has at most 107 bytes)."""

    def __init__(self):
        self.top = Path(tempfile.mkdtemp(prefix="dk-", dir=tempfile.gettempdir()))
        self.work = self.top / "w"
        self.tmpdir = self.top / "t"
        self.work.mkdir()
        self.tmpdir.mkdir()
        (self.work / "run.toml").write_text(RUN_TOML)

    def close(self) -> None:
        for cid in owned_containers(self.tmpdir):
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
        shutil.rmtree(self.top, ignore_errors=True)


@pytest.fixture
def places(docker_daemon):
    made: list[Place] = []
    yield lambda: made.append(Place()) or made[-1]
    for p in made:
        p.close()


def env(tmpdir: Path, kill_at: str | None = None) -> dict[str, str]:
    e = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "TMPDIR": str(tmpdir)}
    e["COLUMNS"] = "120"
    e.pop("DGM_KILL_AT", None)
    if kill_at:
        e["DGM_KILL_AT"] = kill_at
    return e


def dgm(work: Path, tmpdir: Path, *args: str, kill_at: str | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dgm", *args], cwd=work, env=env(tmpdir, kill_at),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def start_args(name: str) -> list[str]:
    return ["run", "--config", "run.toml", "--name", name, "--runs-dir", "runs"]


def owned_containers(tmpdir: Path) -> dict[str, str]:
    """Containers (id -> state) whose owner's scratch root is under `tmpdir`."""
    fmt = '{{.ID}}\t{{.State}}\t{{.Label "dgm.owner"}}'
    out = subprocess.run(
        ["docker", "ps", "-a", "--filter", "label=dgm.sandbox=1", "--format", fmt],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    prefix = f"{socket.gethostname()}:{tmpdir}/"
    found = {}
    for line in out.splitlines():
        cid, state, owner = line.split("\t")
        if owner.startswith(prefix):
            found[cid] = state
    return found


def leftovers(tmpdir: Path, runs: Path) -> list[str]:
    """Temporary folders and half-made runs nobody removed (lock files are shared, kept)."""
    left = [p.name for p in tmpdir.iterdir() if p.name.startswith("dgm-") and p.is_dir()]
    left = [n for n in left if n != f"dgm-{os.getuid()}"]
    base = tmpdir / f"dgm-{os.getuid()}"
    left += [f"{base.name}/{p.name}" for p in base.iterdir()] if base.is_dir() else []
    left += [p.name for p in runs.glob(".creating-*")] if runs.is_dir() else []
    return left


def evaluations(run: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{run / 'archive.db'}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def wait_for(predicate, proc: subprocess.Popen, what: str, poll: float = 0.001) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"dgm ended ({proc.returncode}) before {what}:\n"
                                 f"{proc.stdout.read()}")  # fmt: skip
        assert time.monotonic() < deadline, f"no {what} within {TIMEOUT} s"
        time.sleep(poll)


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)


def next_command(work: Path, tmpdir: Path, name: str) -> str:
    """Resume the run when it exists, else start it again; it must finish."""
    resumed = (work / "runs" / name).exists()
    args = ["run", "--resume", name, "--runs-dir", "runs"] if resumed else start_args(name)
    proc = dgm(work, tmpdir, *args)
    out, _ = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0 and "Run finished" in out, f"{name}: {args}:\n{out}"
    assert "not a run directory" not in out and "exists already" not in out
    return "resumed" if resumed else "started"


def assert_clean(work: Path, tmpdir: Path, name: str) -> None:
    archive = Archive.open(work / "runs" / name)
    try:
        assert archive.check() == [], name
        assert archive.root().id == 0
    finally:
        archive.close()
    assert owned_containers(tmpdir) == {}, f"{name}: containers left"
    assert leftovers(tmpdir, work / "runs") == [], f"{name}: left behind"


def kill_and_continue(place: Place, point: str | float | None) -> str:
    """One scenario: start a run, kill it at `point`, then the next command; how it went."""
    work, tmpdir, runs, name = place.work, place.tmpdir, place.work / "runs", "k"
    if isinstance(point, str):
        proc = dgm(work, tmpdir, *start_args(name), kill_at=point)
        out, _ = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == -signal.SIGKILL, f"{point} was never reached:\n{out}"
        assert (runs / name).exists(), f"{point}: the run is not in place"
        if point == "container-created":
            # The state no runner will ever end: created, never started.
            states = set(owned_containers(tmpdir).values())
            assert states == {"created"}, states  # (one per worker thread that got there)
        assert leftovers(tmpdir, runs), f"{point}: the kill left nothing to sweep?"
    else:
        proc = dgm(work, tmpdir, *start_args(name))
        wait_for(lambda: (runs / name).exists() or any(runs.glob(".creating-*")), proc, "a run")
        if point is None:
            wait_for(lambda: evaluations(runs / name) >= 1, proc, "an evaluation", 0.02)
        else:
            time.sleep(point)
        kill(proc)
    how = next_command(work, tmpdir, name)
    assert_clean(work, tmpdir, name)
    return how


def test_kills_at_many_points_of_start_up_leave_no_dead_end_and_nothing_behind(places) -> None:
    points = [*INJECTED, *DELAYS]
    scenarios = [(point, places()) for point in points]
    with ThreadPoolExecutor(PARALLEL) as pool:
        futures = {
            pool.submit(kill_and_continue, place, point): point for point, place in scenarios
        }
        how = {futures[f]: f.result() for f in futures}
    # Injected points after the rename, and a kill after an evaluation, resume the run.
    assert how["run-renamed"] == how["container-created"] == how[None] == "resumed", how


def test_sandbox_clean_removes_a_container_never_started_and_spares_live_ones(places) -> None:
    from sandbox import Sandbox, SandboxConfig

    place = places()
    work, tmpdir = place.work, place.tmpdir
    # Live first: this process's first sandbox would sweep the dead one itself.
    with Sandbox(SandboxConfig(), labels={"dgm.run": "kill-test-live"}) as live:
        proc = dgm(work, tmpdir, "sandbox", "check", kill_at="container-created")
        out, _ = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == -signal.SIGKILL, out
        assert list(owned_containers(tmpdir).values()) == ["created"]
        proc = dgm(work, tmpdir, "sandbox", "clean")
        out, _ = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 0, out
        # (containers of other dead dgm processes on this machine may go too)
        assert re.search(r"removed [1-9]\d* container\(s\) and 1 temporary folder", out), out
        assert owned_containers(tmpdir) == {} and leftovers(tmpdir, work / "runs") == []
        assert live.run(["true"]).exit_code == 0, "a live process's sandbox was touched"
