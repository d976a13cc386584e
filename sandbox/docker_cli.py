"""Thin wrappers over the `docker` command line, with one-line errors."""

from __future__ import annotations

import shutil
import subprocess

from sandbox.errors import DockerUnavailable

_checked = False


def docker(args: list[str], timeout: float = 120, input: bytes | str | None = None):
    """Run `docker ARGS` and return the CompletedProcess (text mode unless input is bytes)."""
    text = not isinstance(input, bytes)
    try:
        return subprocess.run(
            ["docker", *args], capture_output=True, text=text, timeout=timeout, input=input
        )
    except FileNotFoundError as exc:
        raise DockerUnavailable("the docker command is not installed") from exc


def docker_ok() -> None:
    """Raise DockerUnavailable unless a daemon answers (checked once per process)."""
    global _checked
    if _checked:
        return
    if shutil.which("docker") is None:
        raise DockerUnavailable("the docker command is not installed; run `make setup`")
    try:
        proc = docker(["version", "--format", "{{.Server.Version}}"], timeout=20)
    except subprocess.TimeoutExpired as exc:
        raise DockerUnavailable("the Docker daemon does not answer (timed out)") from exc
    if proc.returncode != 0:
        raise DockerUnavailable(
            "no Docker daemon answers; start one (`make setup` does, as root on Debian)"
        )
    _checked = True
