"""The polyglot adapter on a small fixture in the benchmark's own layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import CHECK_HEADING, BenchmarkError, get_benchmark

FIXTURE = Path(__file__).parent / "fixtures" / "polyglot"


@pytest.fixture(scope="module")
def suite():
    return get_benchmark("polyglot", path=FIXTURE)


def test_reads_the_python_exercises(suite):
    assert suite.subsets()["full"] == ["python/leap", "python/two-fer"]
    assert suite.subsets()["small"] == ["python/leap", "python/two-fer"]


def test_task_from_config_json(suite):
    task = suite.task("python/two-fer")
    assert set(task.files) == {"two_fer.py", "two_fer_test.py"}
    assert task.hidden_tests == {"two_fer_test.py": task.files["two_fer_test.py"]}
    assert task.reference["two_fer.py"].startswith('def two_fer(name="you")')
    assert task.grade_command == ("python3", "-m", "unittest", "two_fer_test")
    assert task.problem.rstrip().endswith(f"```\n{task.visible_check}\n```")
    assert CHECK_HEADING in task.problem
    assert "Do-yun" in task.problem


def test_task_by_convention_with_appended_instructions(suite):
    task = suite.task("python/leap")
    assert set(task.files) == {"leap.py", "leap_test.py"}
    assert "leap_year" in task.reference["leap.py"]
    assert "return a `bool`" in task.problem


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "polyglot needs a local checkout"),
        ({"path": "/nonexistent/polyglot"}, "polyglot checkout not found"),
        ({"path": Path(__file__).parent}, "not a polyglot checkout"),
    ],
)
def test_bad_paths_are_one_line_errors(options, message):
    with pytest.raises(BenchmarkError, match=message) as info:
        get_benchmark("polyglot", **options)
    assert "\n" not in str(info.value)


def test_unknown_task_and_subset(suite):
    with pytest.raises(BenchmarkError, match="unknown polyglot task"):
        suite.task("python/nope")
    with pytest.raises(BenchmarkError, match="unknown subset"):
        suite.tasks("tiny")
