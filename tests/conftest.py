"""Shared fixtures. Docker tests run for real; they are skipped, with the reason shown, only
when no daemon answers at all (`make test` starts one first)."""

from __future__ import annotations

import os
import subprocess

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def _docker_answers() -> str | None:
    try:
        proc = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker CLI unusable: {exc}"
    if proc.returncode != 0:
        return "no Docker daemon answers (run `make test`, which starts one)"
    return None


@pytest.fixture(scope="session")
def docker_daemon() -> None:
    """Skip (visibly) when no Docker daemon answers."""
    reason = _docker_answers()
    if reason:
        pytest.skip(reason)


# Benchmark fixtures are task data laid out like real suites, not tests of ours.
collect_ignore_glob = ["benchmarks/fixtures/*"]
