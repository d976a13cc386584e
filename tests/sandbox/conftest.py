"""Fixtures shared by the sandbox tests: the image, and a run label whose containers must all
be gone when the test ends."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from sandbox import ensure_image


@pytest.fixture(scope="session")
def image(docker_daemon: None) -> str:
    """The sandbox image, built once when missing."""
    return ensure_image()


@pytest.fixture
def run_id(docker_daemon: None, request: pytest.FixtureRequest) -> str:
    """A `dgm.run` label unique to the test. At teardown, no container may carry it: removal
    is guaranteed however the test's sessions ended."""
    label = f"t-{request.node.name[:30].strip('_')}-{uuid.uuid4().hex[:8]}"
    label = "".join(c if c.isalnum() or c in "-_." else "-" for c in label)
    yield label
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=dgm.run={label}"],
        capture_output=True,
        text=True,
    ).stdout.split()
    if out:
        subprocess.run(["docker", "rm", "-f", *out], capture_output=True)
    assert not out, f"containers left behind by {label}: {out}"
