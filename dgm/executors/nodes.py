"""The nodes of a Ray cluster as the executor sees them, and making a node ready to sandbox."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

RESOURCE = "dgm_sandbox"  # the custom resource a node advertises: its sandbox slots


@dataclass
class NodeState:
    """One node: its slots, the jobs on it, and whether it may run them."""

    id: str
    name: str
    slots: int
    status: str = "new"  # new | preparing | ready | suspect | excluded | dead
    busy: int = 0
    reason: str | None = None
    jobs_run: int = 0
    since: float = 0.0  # when it became suspect

    @property
    def free(self) -> int:
        return self.slots - self.busy if self.status == "ready" else 0


def node_label(hostname: str, node_id: str) -> str:
    """How reports name a node: its host and the start of Ray's id (several nodes may share
    a host, as in tests)."""
    return f"{hostname}/{node_id[:8]}"


def sandbox_nodes(nodes: list[dict[str, Any]], resource: str = RESOURCE) -> dict[str, dict]:
    """The alive nodes of `ray.nodes()` that advertise `resource`, by node id."""
    out = {}
    for n in nodes:
        slots = int(n.get("Resources", {}).get(resource, 0))
        if n.get("Alive") and slots > 0:
            out[n["NodeID"]] = {
                "name": node_label(n.get("NodeManagerHostname", "?"), n["NodeID"]),
                "slots": slots,
            }
    return out


def prepare_node(profile: str = "default") -> dict[str, str]:
    """Runs on the node: make sure its Docker answers and it has the sandbox image (built
    there as `dgm sandbox build` does when missing). Raises what `sandbox` raises."""
    from sandbox import ensure_image

    return {"host": socket.gethostname(), "image": ensure_image(profile=profile)}


def no_preparation(profile: str = "default") -> dict[str, str]:
    """For jobs that need no sandbox (the executor's own tests and benchmarks)."""
    return {"host": socket.gethostname(), "image": ""}
