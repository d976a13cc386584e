"""A self-modified child's source is what its parent left in the sandbox: what cannot be
copied or read makes the child invalid with the reason, never a failed job (real Docker)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from dgm.evolve.validate import MAX_FILE_BYTES, static_checks
from dgm.run.workbench import copy_child_out
from sandbox import Sandbox, SandboxConfig

CFG = SandboxConfig(memory_mb=256, pids=64, command_timeout=30)


def _parent(tmp_path: Path) -> Path:
    parent = tmp_path / "parent"
    parent.mkdir()
    (parent / "agent.py").write_text("print('agent')\n")
    return parent


def _child_after(tmp_path: Path, script: str, cfg: SandboxConfig = CFG) -> tuple[str | None, Path]:
    """Run `script` in /work (holding the parent's source), then copy the child out."""
    child = tmp_path / "child"
    with Sandbox(cfg, labels={"dgm.run": "t-child-copy"}) as sb:
        sb.copy_in(_parent(tmp_path), "/work")
        res = sb.run(["sh", "-c", script])
        assert res.exit_code == 0, res.stderr
        return copy_child_out(sb, child, tmp_path / "out"), child


@pytest.mark.docker
def test_an_unreadable_source_file_makes_the_child_invalid(tmp_path, docker_daemon):
    reason, child = _child_after(tmp_path, "echo x > tool.py && chmod 0 tool.py")
    assert reason == (
        "its source could not be copied out whole: 'tool.py' (unreadable: Permission denied)"
    )
    assert (child / "agent.py").read_text() == "print('agent')\n"


@pytest.mark.docker
def test_a_daemon_the_parent_left_is_killed_and_the_child_copied(tmp_path, docker_daemon):
    script = "(while :; do date > /work/stamp.txt; done) >/dev/null 2>&1 & sleep 0.5"
    reason, child = _child_after(tmp_path, script)
    assert reason is None
    assert (child / "stamp.txt").is_file() and (child / "agent.py").is_file()


@pytest.mark.docker
def test_a_source_over_the_transfer_limit_makes_the_child_invalid(tmp_path, docker_daemon):
    small = CFG.model_copy(update={"transfer_limit_mb": 2})
    reason, child = _child_after(tmp_path, "head -c 3000000 /dev/zero > /work/blob", small)
    assert reason == "its source could not be copied out: copy out exceeds 2 MB"
    assert child.is_dir()  # the archive commits an invalid child from this directory


def test_a_huge_child_is_rejected_without_reading_it(tmp_path):
    parent = _parent(tmp_path)
    child = tmp_path / "child"
    child.mkdir()
    (child / "agent.py").write_text("print('changed')\n")
    with (child / "blob.bin").open("wb") as f:
        f.truncate(50 * MAX_FILE_BYTES)  # sparse: 50 MB on paper, nothing on disk
    tracemalloc.start()
    try:
        verdict = static_checks(parent, child)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not verdict.valid and verdict.reason == "file too large: 'blob.bin'"
    assert verdict.changed_files == 2
    assert peak < 1_000_000, peak
