"""The loop's work as jobs (dgm/run/jobs.py): an evaluation and an expansion made into data,
run by an executor's worker over that data alone, and taken back by the head: the logs
land in the run's logs folder, the paths point there, the child's tree is on the head."""

from __future__ import annotations

import pytest

from archive import Archive
from dgm.executors import LocalExecutor
from dgm.fm import Gateway
from dgm.run import lifecycle as runner
from dgm.run.config import RunConfig
from dgm.run.jobs import JobMaker
from dgm.run.rundir import create_run
from dgm.run.workbench import Evaluation, Expansion, Workbench

pytestmark = pytest.mark.docker


@pytest.fixture
def bench(tmp_path, docker_daemon):
    cfg = RunConfig.load(None, name="jobs", seed=2, workers=2, runs_dir=tmp_path / "runs")
    run = create_run(cfg, runner.build_archive)
    benchmark, tasks = runner.check_config(cfg)
    archive = Archive.open(run.root)
    gateway = Gateway(ledger=archive, cache_dir=run.fm_cache, cache_mode=cfg.cache_mode,
                      **cfg.gateway_options())  # fmt: skip
    bench = Workbench(run, cfg, archive, benchmark, gateway)
    yield bench, tasks
    gateway.close()
    bench.close()


def test_jobs_carry_their_data_and_the_head_keeps_the_results(bench):
    bench, tasks = bench
    maker = JobMaker(bench)
    evaluation, expansion = maker.evaluation(0, tasks[0], 0), maker.expansion(0, 0)
    assert evaluation.source == maker.source(0) and evaluation.task.id == tasks[0]
    assert expansion.settings["evaluations"] == [] and expansion.task is None
    with LocalExecutor(2, bench.gateway) as ex:
        ev_done, ex_done = ex.submit(evaluation).result(), ex.submit(expansion).result()
    ev, xp = maker.finish(ev_done), maker.finish(ex_done)
    assert isinstance(ev, Evaluation) and isinstance(xp, Expansion)
    logs = bench.run.logs
    assert ev.result.log_path.startswith(str(logs / "node-0"))
    names = {p.name for p in (logs / "node-0").rglob("*")}
    assert {"transcript.md", "grading.txt", "result.json"} <= names
    assert str(ev.result.outcome) in ("resolved", "unresolved", "empty", "error")
    assert xp.parent == 0 and xp.index == 0 and (xp.child_dir / "agent.py").is_file()
    assert xp.child_dir.is_relative_to(bench.scratch)
    assert xp.meta["log"] == str(logs / "expansion-0.md")
    # the ledger of the head charged both jobs' calls
    assert {r.node for r in bench.archive.fm_calls()} == {0}
