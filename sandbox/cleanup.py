"""Removal of containers left behind by a killed process, found by label."""

from __future__ import annotations

from sandbox.docker_cli import docker, docker_ok

SANDBOX_LABEL = "dgm.sandbox"


def list_containers(run: str | None = None) -> list[str]:
    """Ids of dgm sandbox containers (of one run when `run` is given), running or not."""
    docker_ok()
    label = f"dgm.run={run}" if run else SANDBOX_LABEL
    proc = docker(["ps", "-aq", "--filter", f"label={label}"])
    return proc.stdout.split() if proc.returncode == 0 else []


def remove_orphans(run: str | None = None) -> int:
    """Force-remove the run's sandbox containers (every dgm sandbox when run is None)."""
    ids = list_containers(run)
    if ids:
        docker(["rm", "-f", *ids], timeout=120)
    return len(ids)
