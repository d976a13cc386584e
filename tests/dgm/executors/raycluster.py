"""Ray clusters on this machine for tests: loopback only, no dashboard, each node with its
own sandbox slots, and short health checks so a removed node is noticed in seconds."""

from __future__ import annotations

import os
import socket
import time

# Keep Ray on the loopback: without this, Ray turns "127.0.0.1" in an address into the
# machine's outside IP (to reach other machines), where a loopback-only GCS does not listen.
# Set before Ray is imported (it reads it once), and inherited by every Ray process started.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
# Every Ray process this test process starts (and each of theirs) inherits this, so a test
# counts only its own: other people's Ray instances come and go on a shared machine.
OWNER = f"DGM_RAY_TEST_OWNER={os.getpid()}".encode()
os.environ["DGM_RAY_TEST_OWNER"] = str(os.getpid())

FAST_HEALTH = {
    "health_check_initial_delay_ms": 0,
    "health_check_period_ms": 500,
    "health_check_timeout_ms": 1000,
    "health_check_failure_threshold": 3,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_args(slots: int, **extra) -> dict:
    return {
        "num_cpus": slots, "resources": {"dgm_sandbox": slots}, "node_ip_address": "127.0.0.1",
        "include_dashboard": False, "object_store_memory": 80 * 1024 * 1024, **extra,
    }  # fmt: skip


def start_cluster(head_slots: int = 2, worker_resources: dict | None = None):
    """A head and one worker node (`cluster.worker`); nothing connected to it yet."""
    from ray.cluster_utils import Cluster

    head = node_args(head_slots, gcs_server_port=free_port(), _system_config=FAST_HEALTH)
    cluster = Cluster(initialize_head=True, head_node_args=head)
    cluster.worker = cluster.add_node(
        **node_args(2, resources=worker_resources or {"dgm_sandbox": 2})
    )
    cluster.wait_for_nodes()
    return cluster


def ray_pids() -> set[int]:
    """Processes of Ray (raylet, GCS, workers) this test process started, by /proc."""
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ")
        except OSError:
            continue
        if b"ray/core/src" in cmd or b"default_worker.py" in cmd or b"ray::" in cmd:
            try:
                with open(f"/proc/{entry}/environ", "rb") as fh:
                    ours = OWNER in fh.read().split(b"\0")
            except OSError:
                continue
            if ours:
                pids.add(int(entry))
    return pids


def wait_gone(pids: set[int], timeout: float = 30) -> set[int]:
    """The processes of `pids` still alive after up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = {p for p in alive if os.path.exists(f"/proc/{p}") and not _zombie(p)}
        if alive:
            time.sleep(0.2)
    return alive


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True
