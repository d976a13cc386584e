"""A run's final evaluation (dgm/run/lifecycle.py) by the one pipeline, for real (Docker,
the `sim` model): the scheduler's jobs on the run's executor, every result recorded by the
head with where it ran; on `--executor ray` its sandboxes run on the cluster's nodes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from archive import Archive
from dgm.fm import Gateway
from dgm.run import lifecycle
from dgm.run.config import RunConfig
from dgm.run.rundir import create_run
from dgm.run.workbench import Workbench
from sandbox import ensure_image, wait_for_removals
from tests.dgm.executors.raycluster import start_cluster
from tests.sandbox.helpers import containers_of

pytestmark = pytest.mark.docker


@contextmanager
def run_bench(tmp_path: Path, **options) -> Iterator[tuple[Workbench, list[str]]]:
    cfg = RunConfig.load(None, name="final", seed=2, workers=2, runs_dir=tmp_path, **options)
    run = create_run(cfg, lifecycle.build_archive)
    benchmark, tasks = lifecycle.check_config(cfg)
    ensure_image()
    archive = Archive.open(run.root)
    gateway = Gateway(ledger=archive, cache_dir=run.fm_cache, cache_mode=cfg.cache_mode,
                      **cfg.gateway_options())  # fmt: skip
    bench = Workbench(run, cfg, archive, benchmark, gateway)
    try:
        yield bench, tasks
    finally:
        gateway.close()
        bench.close()


def where(archive: Archive) -> dict[str, str]:
    return {e.data["task"]: e.data["where"] for e in archive.events("job_ran") if e.data["final"]}


def test_the_final_evaluation_records_what_the_seed_has_not_tried(tmp_path, docker_daemon):
    with run_bench(tmp_path) as (bench, tasks):
        archive = bench.archive
        archive.record_evaluation(0, "humaneval", tasks[0], "resolved")  # tried: not again
        lifecycle.final_evaluation(bench, archive, tasks[:3], {0})
        evals = archive.evaluations(0)
        assert sorted(e.task for e in evals) == sorted(tasks[:3])
        assert where(archive) == {tasks[1]: "local", tasks[2]: "local"}
        for e in evals[1:]:  # the head wrote the job's logs into the run's logs folder
            assert Path(e.log_path).is_relative_to(bench.run.logs)
            assert (Path(e.log_path) / "transcript.md").is_file()
            assert e.outcome in ("resolved", "unresolved") and e.tokens > 0
        wait_for_removals()  # as `drive` does at the end of a run
        assert containers_of(bench.run.run_id) == []
        lifecycle.final_evaluation(bench, archive, tasks[:3], {0})  # nothing left to try
        assert len(archive.evaluations(0)) == 3


@pytest.mark.slow
def test_on_ray_the_final_evaluation_runs_on_the_cluster(tmp_path, docker_daemon):
    ray = pytest.importorskip("ray")
    cluster = start_cluster(head_slots=1)  # with 2 in flight, one is on the worker node
    try:
        options = {"executor": "ray", "ray_address": cluster.address}
        with run_bench(tmp_path, **options) as (bench, tasks):
            lifecycle.final_evaluation(bench, bench.archive, tasks[:4], {0})
            assert sorted(e.task for e in bench.archive.evaluations(0)) == sorted(tasks[:4])
            nodes = set(where(bench.archive).values())
            assert len(nodes) == 2 and "local" not in nodes, nodes  # both nodes of the cluster
            assert bench.archive.check() == []
        assert not ray.is_initialized()  # the executor let go of the cluster it joined
    finally:
        cluster.shutdown()
