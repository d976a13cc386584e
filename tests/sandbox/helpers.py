"""Helpers shared by the sandbox abuse tests: small limits, commands, containers by label."""

from __future__ import annotations

import signal
import subprocess
import textwrap

from sandbox import Sandbox, SandboxConfig

OUTPUT_LIMIT = 4000


def small_limits() -> SandboxConfig:
    """Small limits so every attempt hits them quickly."""
    return SandboxConfig(
        memory_mb=128,
        cpus=1.0,
        pids=64,
        tmpfs_mb=16,
        workspace_mb=32,
        command_timeout=3,
        session_timeout=120,
        output_limit=OUTPUT_LIMIT,
    )


def containers_of(run_id: str) -> list[str]:
    """Ids of all containers (running or not) labelled with this run."""
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=dgm.run={run_id}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()


def py(code: str) -> list[str]:
    """A command running a dedented Python snippet inside the container."""
    return ["python3", "-c", textwrap.dedent(code)]


def open_sandbox(cfg: SandboxConfig, run_id: str, **kwargs) -> Sandbox:
    return Sandbox(cfg, labels={"dgm.run": run_id, "dgm.node": "0", "dgm.task": "abuse"}, **kwargs)


def interruptible() -> None:
    """A `preexec_fn`: SIGINT at its default, so that a child Python turns it into
    KeyboardInterrupt even when the tests run where SIGINT is ignored (a background job)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
