"""One bugfix task graded through the real clean-room grader in Docker: the reference fix is
resolved, the untouched buggy repository is empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.base import Outcome
from benchmarks.bugfix import BugfixBenchmark

TASK_ID = "bugfix/calc"  # a cross-module fix: two changed files


def write_files(root: Path, *layers: dict[str, str]) -> Path:
    for files in layers:
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text, encoding="utf-8")
    return root


@pytest.mark.docker
def test_reference_fix_is_resolved_in_the_sandbox(docker_daemon, tmp_path):
    suite = BugfixBenchmark()
    task = suite.task(TASK_ID)
    result = suite.grade(task, write_files(tmp_path / "fixed", task.files, task.reference))
    assert result.outcome == Outcome.RESOLVED, result.output
    untouched = suite.grade(task, write_files(tmp_path / "buggy", task.files))
    assert untouched.outcome == Outcome.EMPTY, untouched.output
