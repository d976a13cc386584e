"""Whole runs on a two-node Ray cluster on this machine (issue 15): `dgm run --executor ray`
with `sim` spreads its jobs over both nodes and builds the same archive as the local
executor for the same seed with one worker; a worker node removed mid-run costs no
evaluation, duplicates none, and leaves no container."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.dgm.executors.raycluster import ray_pids, start_cluster, wait_gone  # before ray

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
    local = dgm("run", "--name", "same", "--workers", "1", "--executor", "local", *RUN,
                cwd=local_cwd)  # fmt: skip
    assert local.returncode == 0, local.stdout + local.stderr
    remote = dgm("run", "--name", "same", "--workers", "1", "--executor", "ray",
                 "--ray-address", cluster.address, *RUN, cwd=ray_cwd)  # fmt: skip
    assert remote.returncode == 0, remote.stdout + remote.stderr
    a_local = Archive.open(local_cwd / "runs" / "same")
    a_ray = Archive.open(ray_cwd / "runs" / "same")
    assert shape(a_ray) == shape(a_local)
    assert len(a_ray.evaluations()) == 8
    where = where_jobs_ran(a_ray)
    assert len(where) == 2, where  # both nodes ran jobs, recorded per job
    assert set(where_jobs_ran(a_local)) == {"local"}
    assert a_ray.check() == [] and a_local.check() == []
    assert containers_of("same") == []


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
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "120"}
    args = ["run", "--name", "cut", "--workers", "2", "--executor", "ray", "--ray-address",
            cluster.address, *RUN]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "dgm", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600  # until a sandbox of the run is on the worker node
        while time.monotonic() < deadline and not on_node(cluster.worker, "cut"):
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.2)
        assert on_node(cluster.worker, "cut"), "the worker node never ran a job"
        cluster.remove_node(cluster.worker, allow_graceful=False)
        out, _ = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    archive = Archive.open(cwd / "runs" / "cut")
    lost = archive.events("job_lost")
    assert lost, "no job was lost: the removed node ran none"
    evals = Counter((e.node, e.task) for e in archive.evaluations())
    assert sum(evals.values()) == 8  # the budget, all recorded: none lost
    assert max(evals.values()) == 1  # hgm gives a node only untried tasks: none twice
    expansions = Counter(n.meta.get("expansion") for n in archive.nodes() if n.parent is not None)
    assert all(c == 1 for c in expansions.values())  # no expansion index committed twice
    assert archive.check() == []
    deadline = time.monotonic() + 60  # a dead job's containers end themselves
    while containers_of("cut") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert containers_of("cut") == []


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
