"""What a sandbox container is: its create arguments (no network, read-only root, no
capabilities, limits, sized tmpfs mounts, owner labels, the runner as PID 1), the watch
while its runner starts, and the daemon's refusals as one line."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.types

from sandbox import engine
from sandbox.channel import SOCKET_NAME
from sandbox.cleanup import OWNER_LABEL, SANDBOX_LABEL
from sandbox.config import OUTDIR, TMPDIR, UID, WORKDIR, SandboxConfig
from sandbox.errors import ImageMissing, SandboxError

RUNNER = (Path(__file__).parent / "runner.py").read_text()
CTL_DIR = "/dgm"  # the control socket's directory, read-only in the container


@dataclass
class Spec:
    """One sandbox container, before it is created."""

    config: SandboxConfig
    image: str
    name: str
    ctl_dir: Path
    """The host directory of the control socket, mounted read-only at CTL_DIR."""
    owner: str
    """The `dgm.owner` label: which process's sweep may remove it."""
    labels: dict[str, str] = field(default_factory=dict)
    ro_mounts: dict[str, str] = field(default_factory=dict)
    """Host path to container path, mounted read-only."""
    env: dict[str, str] = field(default_factory=dict)

    def create_args(self, api: docker.APIClient) -> dict[str, Any]:
        """Keyword arguments of `APIClient.create_container`."""
        c = self.config
        mounts = [docker.types.Mount(CTL_DIR, str(self.ctl_dir), type="bind", read_only=True)]
        mounts += [
            docker.types.Mount(inside, host, type="bind", read_only=True)
            for host, inside in self.ro_mounts.items()
        ]
        opts = "rw,exec,nosuid,nodev"
        owned = f"uid={UID},gid={UID},mode=0755"
        host_config = api.create_host_config(
            auto_remove=True, network_mode="none", read_only=True,
            cap_drop=["ALL"], security_opt=["no-new-privileges"],
            mem_limit=f"{c.memory_mb}m", memswap_limit=f"{c.memory_mb}m",  # no swap
            nano_cpus=int(c.cpus * 1e9), pids_limit=c.pids,
            ulimits=[docker.types.Ulimit(name="nofile", soft=1024, hard=1024),
                     docker.types.Ulimit(name="core", soft=0, hard=0)],
            tmpfs={TMPDIR: f"{opts},size={c.tmpfs_mb}m,mode=1777",
                   WORKDIR: f"{opts},size={c.workspace_mb}m,{owned}",
                   OUTDIR: f"rw,noexec,nosuid,nodev,size={c.out_mb}m,{owned}"},
            # No container log: /proc/1/fd/1 would otherwise write without bound to the host.
            log_config=docker.types.LogConfig(type="none"),
            mounts=mounts,
        )  # fmt: skip
        socket_path = f"{CTL_DIR}/{SOCKET_NAME}"
        return {
            "image": self.image,
            "command": ["python3", "-c", RUNNER, socket_path, str(c.session_timeout)],
            "name": self.name,
            "user": f"{UID}:{UID}",
            "working_dir": WORKDIR,
            "labels": {SANDBOX_LABEL: "1", OWNER_LABEL: self.owner, **self.labels},
            "environment": dict(self.env),
            "host_config": host_config,
        }


class StartWatch:
    """While waiting for the runner to connect: false once the started container is no
    longer running (a runner that died at start, an image without python3), checked each
    second."""

    def __init__(self, name: str):
        self.name = name
        self.next_check = time.monotonic() + 1

    def __call__(self) -> bool:
        now = time.monotonic()
        if now < self.next_check:
            return True
        self.next_check = now + 1
        return engine.running(self.name)


def start_error(exc: docker.errors.APIError, image: str) -> SandboxError:
    """The daemon's refusal to create or start a sandbox, as one line."""
    if isinstance(exc, docker.errors.ImageNotFound):
        return ImageMissing(f"image {image} is missing; run `dgm sandbox build`")
    text = str(exc.explanation or exc).strip().splitlines() or ["the daemon refused"]
    return SandboxError(f"could not start a sandbox: {text[0][:300]}")
