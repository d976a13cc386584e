"""A two-node Ray cluster on this machine, the test process connected as its driver."""

from __future__ import annotations

import pytest

from tests.dgm.executors.raycluster import ray_pids, start_cluster, wait_gone

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster():
    """Head (2 slots) and one worker node (2 slots, and 2 of `dgm_worker`, so a test can
    send jobs to the worker alone); the driver (this process) connected to the head."""
    before = ray_pids()
    c = start_cluster(worker_resources={"dgm_sandbox": 2, "dgm_worker": 2})
    ray.init(address=c.address, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()
        left = wait_gone(ray_pids() - before)
        assert not left, f"Ray processes left behind: {sorted(left)}"
