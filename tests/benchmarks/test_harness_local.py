"""The grading harness run on the host's Python (no Docker), for breadth: every reference
of humaneval and bugfix resolves through it, and its host-side pieces behave."""

from __future__ import annotations

import marshal
import math

import pytest

from benchmarks import get_benchmark, harness
from benchmarks.base import TestPlan
from benchmarks.grading import select_files
from benchmarks.testids import unittest_ids
from tests.benchmarks.harness_helpers import run_harness


def test_every_humaneval_reference_resolves_and_every_stub_fails(tmp_path):
    suite = get_benchmark("humaneval")
    failed = []
    for n, task in enumerate(suite.tasks("full")):
        report = run_harness(task, task.reference, tmp_path / f"r{n}")
        if report["tests"] != {"check": "pass"} or report["evidence"]:
            failed.append((task.id, report["log"][:300]))
    assert failed == []
    for task in suite.tasks("small"):
        stub = {"solution.py": task.files["solution.py"] + "    return None\n"}
        report = run_harness(task, stub, tmp_path / task.id.replace("/", "_"))
        assert report["tests"] == {"check": "fail"} and report["evidence"] == []


def test_hidden_tests_never_reach_the_disk_of_a_python_grading(tmp_path):
    task = get_benchmark("bugfix").task("bugfix/ini_parser")
    report = run_harness(task, {**task.files, **task.reference}, tmp_path)
    assert set(report["tests"].values()) == {"pass"}
    assert not (tmp_path / "tests_hidden").exists()


def test_plain_values_cross_as_exact_builtins_and_nothing_else_is_accepted():
    namespace: dict = {}
    exec(harness.CHILDREN["call"].split("REQ, RESP")[0], namespace)
    to_plain, check_plain = namespace["to_plain"], namespace["check_plain"]

    class Liar(int):
        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

    value = [1, -(10**5000), 2.5, math.inf, None, True, "é\x00", b"\xff", (1, (2,)), {"k": {1}}]
    value += [frozenset({3}), 1 + 2j, {(1, 2): [3]}, Liar(7)]
    plain = check_plain(marshal.loads(marshal.dumps(to_plain(value))))
    assert plain == value and type(plain[-1]) is int and plain[-1] != 8
    assert math.isnan(to_plain(math.nan))
    with pytest.raises(TypeError):
        to_plain(object())
    for bad in ([object()], {"k": compile("1", "x", "eval")}, [Liar(1)], (1, [2, {3: type}])):
        with pytest.raises(ValueError):
            check_plain(bad)


def test_unittest_ids_follow_inheritance_within_a_file():
    source = (
        "import unittest\n"
        "class Base(unittest.TestCase):\n    def test_a(self): pass\n    def helper(self): pass\n"
        "class More(Base):\n    def test_b(self): pass\n"
        "class NotATest:\n    def test_c(self): pass\n"
    )
    ids = unittest_ids({"tests/test_x.py": source, "tests/data.txt": "", "bad.py": "def ("})
    names = ("Base.test_a", "More.test_a", "More.test_b")
    assert ids == tuple(f"tests.test_x.{name}" for name in names)


def test_select_files_drops_and_reports_what_may_not_be_graded(tmp_path):
    task = get_benchmark("bugfix").task("bugfix/ini_parser")
    names = [
        "iniparse/parser.py",
        "tests_hidden/test_issue.py",
        "tests_hidden/test_000.py",
        "helper.so",
        "unittest/__main__.py",
        "notes/test.py",
    ]
    files = {rel: tmp_path / rel for rel in names}
    keep, evidence = select_files(task, files)
    assert sorted(keep) == ["iniparse/parser.py", "notes/test.py"]
    assert len(evidence) == 3
    assert any("tests_hidden/test_000.py" in e for e in evidence)
    assert any("helper.so" in e for e in evidence)
    assert any("`unittest`" in e for e in evidence)
    assert task.plan == TestPlan("unittest", task.plan.expected, test_dirs=("tests_hidden",))
