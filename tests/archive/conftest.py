"""Fixtures for archive tests: a small seed agent and a fresh archive built from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive import Archive


def write_seed(root: Path) -> Path:
    """A tiny agent: a few files, a subdirectory, an executable script."""
    (root / "tools").mkdir(parents=True)
    (root / "agent.py").write_text("".join(f"line {i}\n" for i in range(20)))
    (root / "tools" / "shell.py").write_text("def run():\n    return 0\n")
    (root / "README.md").write_text("# seed\n")
    script = root / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    return root


@pytest.fixture
def seed_dir(tmp_path: Path) -> Path:
    return write_seed(tmp_path / "seed")


@pytest.fixture
def archive(tmp_path: Path, seed_dir: Path) -> Archive:
    return Archive.create(tmp_path / "run", seed_dir)
