"""Thin wrappers over the `docker` command line, with one-line errors. Only image builds use
it (streamed `docker build`/`import`/`commit` progress); the container life cycle goes
through the SDK (`sandbox/engine.py`)."""

from __future__ import annotations

import shutil
import subprocess

from sandbox import engine
from sandbox.errors import DockerUnavailable


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
    """Raise DockerUnavailable unless the `docker` command (image builds use it) is installed
    and a daemon answers (asked once per process, by the SDK client sessions share)."""
    if shutil.which("docker") is None:
        raise DockerUnavailable("the docker command is not installed; run `make setup`")
    engine.client()
