"""An executor that starts its own Ray (no address) leaves no Ray process behind."""

from __future__ import annotations

import ray

from dgm.executors import Job, make_executor
from tests.dgm.executors.raycluster import ray_pids, wait_gone


def test_shutdown_leaves_no_ray_process_of_ours(tmp_path):
    assert not ray.is_initialized()
    before = ray_pids()  # other people's Ray processes on this machine are not ours
    ex = make_executor("ray", 2, prepare=None, init_options={"num_cpus": 1})
    try:
        futs = [ex.submit(Job("sleep", f"s{i}", "dgm.executors.probes:sleep",
                              settings={"seconds": 0.2})) for i in range(3)]  # fmt: skip
        assert [f.result(timeout=120).status for f in futs] == ["done"] * 3
        ours = ray_pids() - before
        assert ours, "no Ray process was started"
    finally:
        ex.shutdown()
    assert not ray.is_initialized()
    assert not wait_gone(ours), "Ray processes outlived the executor"
