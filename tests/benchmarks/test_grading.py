"""The clean-room grader: pure helpers on the host, verdicts in real Docker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks import Outcome, Task, get_benchmark, grade_in_sandbox, reports
from benchmarks.base import TestPlan
from benchmarks.grading import clip, is_unchanged, stage, workspace_files

FIXTURE = Path(__file__).parent / "fixtures" / "polyglot"
# A toy native runner: check.sh prints one `ok NAME` / `not ok NAME` line per test.
CHECK = 'if [ "$(python3 answer.py)" = 42 ]; then echo "ok answer"; else echo "not ok answer"; fi\n'


@reports.register("toy-lines")
def _toy_lines(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        status, _, name = line.rpartition(" ")
        if status in ("ok", "not ok"):
            out[name] = "pass" if status == "ok" else "fail"
    return out


def make_task(**changes) -> Task:
    fields = dict(
        id="toy/1",
        benchmark="toy",
        problem="Make `answer.py` print 42.",
        files={"answer.py": "print(0)\n"},
        hidden_tests={"check.sh": CHECK},
        grade_command=("sh", "check.sh"),
        time_limit=10.0,
        plan=TestPlan(kind="command", expected=("answer",), report_format="toy-lines"),
    )
    fields.update(changes)
    return Task(**fields)


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


# -- host-side helpers ---------------------------------------------------------------------
def test_workspace_files_skip_links_and_caches(tmp_path):
    write(tmp_path, {"a.py": "x", "pkg/b.py": "y", "__pycache__/a.cpython-311.pyc": "z"})
    os.symlink("/etc/passwd", tmp_path / "link")
    assert sorted(workspace_files(tmp_path)) == ["a.py", "pkg/b.py"]


def test_unchanged_detection(tmp_path):
    task = make_task()
    write(tmp_path, task.files)
    assert is_unchanged(task, workspace_files(tmp_path))
    write(tmp_path, {"extra.txt": ""})
    assert not is_unchanged(task, workspace_files(tmp_path))


def test_hidden_tests_overwrite_agent_files(tmp_path):
    task = make_task(hidden_tests={"check.sh": "real", "tests/t.py": "hidden"})
    agent = write(tmp_path / "agent", {"check.sh": "exit 0", "tests": "a file in the way"})
    dest = tmp_path / "staged"
    dest.mkdir()
    stage(task, workspace_files(agent), dest)
    assert (dest / "check.sh").read_text() == "real"
    assert (dest / "tests" / "t.py").read_text() == "hidden"


def test_clip_keeps_head_and_tail():
    text = "H" * 10_000 + "T" * 10_000
    out = clip(text, 1000)
    assert out.startswith("H" * 500) and out.endswith("T" * 500) and len(out) < 1100


def test_missing_result_dir_is_error(tmp_path):
    result = grade_in_sandbox(make_task(), tmp_path / "missing")
    assert result.outcome is Outcome.ERROR


def test_unchanged_workspace_is_empty_without_a_sandbox(tmp_path):
    task = make_task()
    result = grade_in_sandbox(task, write(tmp_path, task.files))
    assert result.outcome is Outcome.EMPTY


# -- real Docker ---------------------------------------------------------------------------
docker = pytest.mark.docker


@docker
def test_toy_verdicts(tmp_path, docker_daemon):
    task = make_task()
    right = write(tmp_path / "right", {"answer.py": "print(42)\n"})
    wrong = write(tmp_path / "wrong", {"answer.py": "print(41)\n"})
    # the agent's forged check.sh is replaced by the hidden one
    forged = write(tmp_path / "forged", {"answer.py": "print(1)\n", "check.sh": "exit 0\n"})
    assert grade_in_sandbox(task, right).outcome is Outcome.RESOLVED
    assert grade_in_sandbox(task, wrong).outcome is Outcome.UNRESOLVED
    assert grade_in_sandbox(task, forged).outcome is Outcome.UNRESOLVED


@docker
def test_hanging_and_noisy_solutions_are_unresolved(tmp_path, docker_daemon):
    hang = make_task(time_limit=2.0)
    slow = write(tmp_path / "slow", {"answer.py": "while True: pass\n"})
    result = grade_in_sandbox(hang, slow)
    assert result.outcome is Outcome.UNRESOLVED and "timed out" in result.output
    noisy = write(tmp_path / "noisy", {"answer.py": "print('x' * 10_000_000)\n"})
    result = grade_in_sandbox(make_task(), noisy)
    assert result.outcome is Outcome.UNRESOLVED and len(result.output) < 10_000


@docker
@pytest.mark.parametrize("task_id", ["HumanEval/0", "HumanEval/38", "HumanEval/108"])
def test_humaneval_reference_resolves_and_stub_does_not(tmp_path, docker_daemon, task_id):
    suite = get_benchmark("humaneval")
    task = suite.task(task_id)
    assert suite.grade(task, write(tmp_path / "ref", task.reference)).outcome is Outcome.RESOLVED
    assert suite.grade(task, write(tmp_path / "stub", task.files)).outcome is Outcome.EMPTY
    # a stub with a trivial body is a change, and the hidden tests fail it
    body = {"solution.py": task.files["solution.py"] + "    return None\n"}
    assert suite.grade(task, write(tmp_path / "none", body)).outcome is Outcome.UNRESOLVED


@docker
def test_polyglot_reference_resolves_and_edited_tests_are_restored(tmp_path, docker_daemon):
    suite = get_benchmark("polyglot", path=FIXTURE)
    task = suite.task("python/two-fer")
    files = {**task.files, **task.reference}
    assert suite.grade(task, write(tmp_path / "ref", files)).outcome is Outcome.RESOLVED
    cheat = {**task.files, "two_fer_test.py": "import unittest\n"}
    assert suite.grade(task, write(tmp_path / "cheat", cheat)).outcome is Outcome.UNRESOLVED
