"""Whole runs on a two-node Ray cluster on this machine (issue 15): `dgm run --executor ray`
with `sim` spreads its jobs over both nodes and builds the same archive as the local
executor for the same seed with one worker; a worker node removed mid-run costs no
evaluation, duplicates none, and leaves no container; a head killed with SIGKILL resumes
against the same cluster and leaves neither a container nor a Ray worker process behind."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from tests.dgm.executors.raycluster import (  # before ray
    node_args,
    ray_pids,
    start_cluster,
    wait_gone,
)

pytest.importorskip("ray")

from archive import Archive  # noqa: E402
from tests.sandbox.helpers import containers_of  # noqa: E402

pytestmark = [pytest.mark.docker, pytest.mark.slow]

CONFIG = "final_eval = false\nvalidate_timeout = 8\n"
RUN = ["--seed", "5", "--policy", "hgm", "--budget-evals", "8", "--config", "run.toml"]


def dgm(*args: str, cwd: Path, **kw):
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "dgm", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900, **kw)  # fmt: skip


@pytest.fixture(scope="module")
def cluster(docker_daemon):
    before = ray_pids()
    c = start_cluster(head_slots=1)  # with 2 workers in flight, one job is on the worker
    try:
        yield c
    finally:
        c.shutdown()
        assert not wait_gone(ray_pids() - before), "Ray processes left behind"


def unique(name: str) -> str:
    """A run name no other test on this machine uses: containers are found (and removed at
    a run's start and end) by run name."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def fresh(tmp_path_factory, name: str) -> Path:
    cwd = tmp_path_factory.mktemp(name)
    (cwd / "run.toml").write_text(CONFIG)
    return cwd


def where_jobs_ran(archive: Archive) -> Counter:
    return Counter(e.data["where"] for e in archive.events("job_ran"))


def shape(archive: Archive) -> tuple[list, list]:
    nodes = [(n.id, n.commit, n.parent, n.status) for n in archive.nodes()]
    evals = sorted((e.node, e.task, e.outcome) for e in archive.evaluations())
    return nodes, evals


def test_a_ray_run_uses_both_nodes_and_matches_the_local_executor(cluster, tmp_path_factory):
    local_cwd, ray_cwd = fresh(tmp_path_factory, "local"), fresh(tmp_path_factory, "ray")
    name = unique("same")
    local = dgm("run", "--name", name, "--workers", "1", "--executor", "local", *RUN,
                cwd=local_cwd)  # fmt: skip
    assert local.returncode == 0, local.stdout + local.stderr
    remote = dgm("run", "--name", name, "--workers", "1", "--executor", "ray",
                 "--ray-address", cluster.address, *RUN, cwd=ray_cwd)  # fmt: skip
    assert remote.returncode == 0, remote.stdout + remote.stderr
    a_local = Archive.open(local_cwd / "runs" / name)
    a_ray = Archive.open(ray_cwd / "runs" / name)
    assert shape(a_ray) == shape(a_local)
    assert len(a_ray.evaluations()) == 8
    where = where_jobs_ran(a_ray)
    assert len(where) == 2, where  # both nodes ran jobs, recorded per job
    assert set(where_jobs_ran(a_local)) == {"local"}
    assert a_ray.check() == [] and a_local.check() == []
    assert containers_of(name) == []


def test_dgm_eval_runs_on_the_cluster(cluster, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("eval")
    proc = dgm("eval", "--limit", "2", "--executor", "ray", "--ray-address", cluster.address,
               "--out", "out", cwd=cwd)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((cwd / "out" / "summary.json").read_text())
    assert len(summary["results"]) == 2
    for task, result in summary["results"].items():
        logs = (cwd / result["log_path"]).resolve()  # the head wrote the worker's logs here
        assert logs.is_relative_to((cwd / "out" / "logs").resolve()), task
        assert (logs / "transcript.md").is_file()


def test_a_worker_node_removed_mid_run_costs_nothing(cluster, tmp_path_factory):
    cwd = fresh(tmp_path_factory, "removal")
    name = unique("cut")
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "120"}
    args = ["run", "--name", name, "--workers", "2", "--executor", "ray", "--ray-address",
            cluster.address, *RUN]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "dgm", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600  # until a sandbox of the run is on the worker node
        while time.monotonic() < deadline and not on_node(cluster.worker, name):
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.2)
        assert on_node(cluster.worker, name), "the worker node never ran a job"
        cluster.remove_node(cluster.worker, allow_graceful=False)
        out, _ = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    archive = Archive.open(cwd / "runs" / name)
    lost = archive.events("job_lost")
    assert lost, "no job was lost: the removed node ran none"
    evals = Counter((e.node, e.task) for e in archive.evaluations())
    assert sum(evals.values()) == 8  # the budget, all recorded: none lost
    assert max(evals.values()) == 1  # hgm gives a node only untried tasks: none twice
    expansions = Counter(n.meta.get("expansion") for n in archive.nodes() if n.parent is not None)
    assert all(c == 1 for c in expansions.values())  # no expansion index committed twice
    assert archive.check() == []
    deadline = time.monotonic() + 60  # a dead job's containers end themselves
    while containers_of(name) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert containers_of(name) == []


def on_node(node, run_id: str) -> int:
    """Running containers of the run made by a worker process of `node`: their owner label
    names the maker's scratch root (`host:/tmp/dgm-UID/PID-...`), whose parent process is
    the node's raylet."""
    raylet = node.all_processes["raylet"][0].process.pid
    out = subprocess.run(
        ["docker", "ps", "--filter", f"label=dgm.run={run_id}", "--format",
         '{{.Label "dgm.owner"}}'], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    count = 0
    for label in out.split():
        pid = Path(label.partition(":")[2]).name.split("-")[0]
        try:
            with open(f"/proc/{pid}/stat") as fh:
                count += int(fh.read().rsplit(")", 1)[1].split()[1]) == raylet
        except (OSError, ValueError, IndexError):
            continue
    return count


def committed(run: Path) -> int:
    """Evaluations the run's archive holds (read-only: the run is writing it)."""
    try:
        con = sqlite3.connect(f"file:{run / 'archive.db'}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_a_head_killed_with_sigkill_resumes_against_the_same_cluster(cluster, tmp_path_factory):
    cwd = fresh(tmp_path_factory, "killed")
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "120"}
    worker = cluster.add_node(**node_args(2))  # its own: an earlier test removes a node
    cluster.wait_for_nodes()
    try:
        killed_and_resumed(cluster, cwd, env)
    finally:
        cluster.remove_node(worker)


def killed_and_resumed(cluster, cwd: Path, env: dict) -> None:
    before = ray_pids()  # the cluster's own processes; every worker of a head is extra
    name = unique("killed")
    args = ["run", "--name", name, "--workers", "2", "--executor", "ray", "--ray-address",
            cluster.address, *RUN]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "dgm", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and committed(cwd / "runs" / name) < 2:
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.1)
        assert 2 <= committed(cwd / "runs" / name) < 8, "the run never got under way"
        proc.send_signal(signal.SIGKILL)  # mid-run: jobs in flight on both nodes
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    resumed = dgm("run", "--resume", name, cwd=cwd)  # the same cluster, from run.toml's copy
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    archive = Archive.open(cwd / "runs" / name)
    evals = Counter((e.node, e.task) for e in archive.evaluations())
    assert sum(evals.values()) == 8 and max(evals.values()) == 1  # none lost, none twice
    expansions = Counter(n.meta.get("expansion") for n in archive.nodes() if n.parent is not None)
    assert all(c == 1 for c in expansions.values())
    assert archive.check() == []
    assert containers_of(name) == []
    left = wait_gone(ray_pids() - before, timeout=60)
    assert not left, f"Ray worker processes of a head outlived it: {sorted(left)}"
