"""The nodes of a Ray cluster as the executor sees them, and making a node ready to sandbox."""

from __future__ import annotations

import importlib
import socket
import subprocess
from dataclasses import dataclass, field
from typing import Any

RESOURCE = "dgm_sandbox"  # the custom resource a node advertises: its sandbox slots
# What a job imports before its first line runs (the workbench, litellm through the FM
# package, the FM proxy): seconds per worker process, paid at start-up instead of by a job.
WARM_MODULES = ("dgm.run.jobs", "dgm.executors.proxy")


@dataclass
class NodeState:
    """One node: its slots, the jobs on it, whether it may run them, and the extra sandbox
    images (a task's `image`) it has ready: image -> "preparing" | "ready"."""

    id: str
    name: str
    slots: int
    status: str = "new"  # new | preparing | ready | suspect | excluded | dead
    busy: int = 0
    reason: str | None = None
    jobs_run: int = 0
    since: float = 0.0  # when it became suspect
    warming: int = 0  # worker processes still importing what jobs import
    made: bool = False  # the default image is there: the images jobs name come next
    images: dict[str, str] = field(default_factory=dict)

    @property
    def free(self) -> int:
        return self.slots - self.busy if self.status == "ready" else 0

    def has(self, image: str | None) -> bool:
        return image is None or self.images.get(image) == "ready"


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


def image_of(job) -> str | None:
    """The sandbox image a job's task names (None: the default image)."""
    return getattr(job.task, "image", None)


def _profiles() -> dict[str, str]:
    """The images `dgm sandbox build` knows how to make, by tag: their profile."""
    from sandbox import IMAGE_NAME
    from sandbox.image_polyglot import POLYGLOT_IMAGE

    return {IMAGE_NAME: "default", POLYGLOT_IMAGE: "polyglot"}


def prepare_node(image: str | None = None) -> dict[str, str]:
    """Runs on the node: make sure its Docker answers and it has `image` (None: the default
    sandbox image), built there as the head builds it (`ensure_image` of the image's
    profile) when missing. An image no profile makes (a SWE-bench instance's) must already
    be on the node. Raises what `sandbox` raises, or `RuntimeError` with the reason."""
    from sandbox import ensure_image

    profile = "default" if image is None else _profiles().get(image)
    if profile is not None:
        return {"host": socket.gethostname(), "image": ensure_image(profile=profile)}
    ensure_image()  # Docker answers, and the default image is there
    found = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", image],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    if found.returncode != 0:
        raise RuntimeError(f"image {image} is not on this node and no `dgm sandbox build` "
                           "profile makes it (load it there with `docker load`)")  # fmt: skip
    return {"host": socket.gethostname(), "image": image}


def no_preparation(image: str | None = None) -> dict[str, str]:
    """For jobs that need no sandbox (the executor's own tests and benchmarks)."""
    return {"host": socket.gethostname(), "image": image or ""}


def warm(modules: tuple[str, ...]) -> int:
    """Runs in a worker process: import what jobs import, so no job waits for it."""
    for name in modules:
        importlib.import_module(name)
    return len(modules)
