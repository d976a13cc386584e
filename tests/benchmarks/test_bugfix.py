"""The `bugfix` suite: it loads, its subsets are fixed, and every task is sound: the visible
tests pass on the buggy repository, the hidden tests fail on it and pass with the reference
fix, and the issue text does not give the fix away. No Docker here (see test_bugfix_docker)."""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.base import CHECK_HEADING, Benchmark, BenchmarkError, Task
from benchmarks.bugfix import BugfixBenchmark
from tests.benchmarks.harness_helpers import run_harness

SUITE = BugfixBenchmark()
TASK_IDS = [t.id for t in SUITE.tasks("full")]


def write_files(root: Path, *layers: dict[str, str]) -> Path:
    """Write each layer of files in turn (later layers overwrite same-named files)."""
    for files in layers:
        for rel, text in files.items():
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text, encoding="utf-8")
    return root


def run_command(command: list[str] | tuple[str, ...], cwd: Path, timeout: float):
    """Run a task command with this interpreter standing in for `python3`."""
    argv = [sys.executable if c == "python3" else c for c in command]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    try:
        return subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
        )
    except subprocess.TimeoutExpired:
        return None  # counts as a failure: the time limit is part of the grading


def changed_lines(task: Task) -> list[str]:
    """The lines the reference fix adds, stripped, ignoring blank and trivial ones."""
    lines = []
    for rel, fixed in task.reference.items():
        before = task.files.get(rel, "").splitlines()
        for line in difflib.ndiff(before, fixed.splitlines()):
            text = line[2:].strip()
            if line.startswith("+ ") and len(text) > 3 and text not in ("else:", "try:"):
                lines.append(text)
    return lines


# -- the suite -------------------------------------------------------------------------------
def test_suite_loads_and_follows_the_protocol():
    assert isinstance(SUITE, Benchmark)
    assert SUITE.name == "bugfix"
    assert len(TASK_IDS) >= 20
    assert len(set(TASK_IDS)) == len(TASK_IDS)
    assert all(t.startswith("bugfix/") for t in TASK_IDS)


def test_subsets_are_fixed_and_nested():
    subsets = SUITE.subsets()
    assert len(subsets["small"]) == 5
    assert len(subsets["medium"]) == 12
    assert subsets["full"] == sorted(TASK_IDS)
    assert set(subsets["small"]) <= set(subsets["medium"]) <= set(subsets["full"])
    assert [t.id for t in SUITE.tasks("small")] == subsets["small"]
    assert subsets == BugfixBenchmark().subsets()  # stable across loads


def test_unknown_subset_and_task_are_bad_input():
    with pytest.raises(BenchmarkError) as err:
        SUITE.tasks("huge")
    assert err.value.exit_code == 2
    with pytest.raises(BenchmarkError):
        SUITE.task("bugfix/no_such_task")
    first = TASK_IDS[0]
    assert SUITE.task(first.removeprefix("bugfix/")).id == first


def test_malformed_task_directory_is_reported(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "task.toml").write_text('id = "bugfix/broken"\n')
    with pytest.raises(BenchmarkError, match="broken: missing"):
        BugfixBenchmark(path=tmp_path).tasks()
    with pytest.raises(BenchmarkError):
        BugfixBenchmark(path=tmp_path / "absent")


def test_a_custom_tasks_directory_is_read(tmp_path):
    task_dir = tmp_path / "tiny"
    write_files(
        task_dir,
        {
            "task.toml": 'id = "bugfix/tiny"\nkinds = ["demo"]\nsubsets = ["small"]\n',
            "issue.md": "It breaks.\n",
            "repo/m.py": "X = 1\n",
            "hidden/tests_hidden/test_m.py": (
                "import unittest\nimport m\n\n\nclass T(unittest.TestCase):\n"
                "    def test_x(self):\n        self.assertEqual(m.X, 2)\n"
            ),
            "reference/m.py": "X = 2\n",
        },
    )
    bench = BugfixBenchmark(path=tmp_path)
    assert bench.subsets() == {"small": ["bugfix/tiny"], "medium": ["bugfix/tiny"],
                               "full": ["bugfix/tiny"]}  # fmt: skip
    assert bench.task("tiny").meta["kinds"] == "demo"
    assert bench.task("tiny").plan.expected == ("tests_hidden.test_m.T.test_x",)
    # hidden tests without a single test could never resolve: a malformed task
    write_files(task_dir, {"hidden/tests_hidden/test_m.py": "import unittest\n"})
    with pytest.raises(BenchmarkError, match="no unittest tests"):
        BugfixBenchmark(path=tmp_path).tasks()


# -- every task ------------------------------------------------------------------------------
@pytest.mark.parametrize("task_id", TASK_IDS)
def test_task_shape(task_id):
    task = SUITE.task(task_id)
    assert task.benchmark == "bugfix"
    assert task.visible_check and task.reference
    assert any(p.startswith("tests/") for p in task.files), "visible tests under tests/"
    assert all(p.startswith("tests_hidden/") for p in task.hidden_tests)
    assert 2 <= sum(p.endswith(".py") and "tests" not in p for p in task.files) <= 7
    for rel, text in task.reference.items():
        assert task.files.get(rel) != text, f"reference {rel} is unchanged"
    tail = task.problem.split(CHECK_HEADING, 1)[1]
    assert f"```\n{task.visible_check}\n```" in tail
    assert task.meta["kinds"]


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_issue_does_not_give_the_fix_away(task_id):
    task = SUITE.task(task_id)
    leaked = [line for line in changed_lines(task) if line in task.problem]
    assert not leaked


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_visible_tests_pass_on_the_buggy_repo(task_id, tmp_path):
    task = SUITE.task(task_id)
    work = write_files(tmp_path, task.files)
    proc = run_command(task.visible_check.split(), work, task.time_limit)
    assert proc is not None and proc.returncode == 0, proc and proc.stderr[-2000:]


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_hidden_tests_fail_on_the_buggy_repo(task_id, tmp_path):
    """Through the grading harness (this machine's python3): some expected test fails."""
    task = SUITE.task(task_id)
    report = run_harness(task, task.files, tmp_path)
    assert report["evidence"] == [] and set(report["tests"]) == set(task.plan.expected)
    assert any(status != "pass" for status in report["tests"].values()), "tests miss the bug"


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_hidden_tests_pass_with_the_reference(task_id, tmp_path):
    task = SUITE.task(task_id)
    report = run_harness(task, {**task.files, **task.reference}, tmp_path / "graded")
    assert report["evidence"] == [] and not report["timed_out"], report["log"][-2000:]
    assert report["tests"] == {t: "pass" for t in task.plan.expected}, report["log"][-2000:]
    work = write_files(tmp_path / "work", task.files, task.reference)
    visible = run_command(task.visible_check.split(), work, task.time_limit)
    assert visible is not None and visible.returncode == 0, "the fix breaks visible tests"
