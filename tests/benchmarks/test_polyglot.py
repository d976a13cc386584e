"""The polyglot adapter on a small fixture in the benchmark's own layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import CHECK_HEADING, BenchmarkError, get_benchmark
from dgm.run.config import RunConfig
from sandbox.image_polyglot import POLYGLOT_IMAGE

FIXTURE = Path(__file__).parent / "fixtures" / "polyglot"


@pytest.fixture(scope="module")
def suite():
    return get_benchmark("polyglot", path=FIXTURE)


def test_reads_every_language_of_the_checkout(suite):
    full = ["go/greeting", "java/greeter", "python/leap", "python/two-fer"]
    assert suite.subsets()["full"] == full
    assert suite.subsets()["small"] == ["go/greeting", "java/greeter", "python/leap",
                                        "python/two-fer"]  # fmt: skip
    assert suite.subsets()["python"] == ["python/leap", "python/two-fer"]
    only = get_benchmark("polyglot", path=FIXTURE, languages="python")
    assert only.subsets()["full"] == ["python/leap", "python/two-fer"]
    assert only.images() == {None}
    assert suite.images() == {None, POLYGLOT_IMAGE}


def test_python_tasks_keep_unittest_in_the_default_image(suite):
    task = suite.task("python/two-fer")
    assert task.image is None
    assert task.plan.kind == "unittest" and task.plan.test_dirs == ()
    assert task.plan.expected and all(
        t.startswith("two_fer_test.TwoFerTest.test_") for t in task.plan.expected
    )


def test_go_layout_editor_and_invalidator_files(suite):
    task = suite.task("go/greeting")
    assert task.image == POLYGLOT_IMAGE
    # introduction first, then instructions, then the append, as the benchmark joins them
    intro, body, append = (task.problem.index(x) for x in ("greet each", "Return a", "Use `fmt`"))
    assert intro < body < append
    assert set(task.hidden_tests) == {"greeting_test.go", "cases_test.go", "go.mod"}
    assert set(task.files) == {"greeting.go", "greeting_test.go", "cases_test.go", "go.mod"}
    assert task.plan.kind == "command" and task.plan.report_format == "go-test-json"
    assert task.plan.expected == ("TestGreet", "TestGreetEmpty")
    assert task.reference == {"greeting.go": task.reference["greeting.go"]}
    assert 'Sprintf("Hello, %s!"' in task.reference["greeting.go"]
    assert "`cases_test.go`" in task.problem and "Sprintf" not in task.problem
    assert task.problem.rstrip().endswith(f"```\n{task.visible_check}\n```")


def test_java_reference_classes_and_disabled_tests(suite):
    task = suite.task("java/greeter")
    assert set(task.reference) == {"src/main/java/Greeter.java", "src/main/java/Polite.java"}
    test = task.hidden_tests["src/test/java/GreeterTest.java"]
    assert "@Disabled" not in test and task.files["src/test/java/GreeterTest.java"] == test
    assert task.plan.expected == ("GreeterTest.greetsAda", "GreeterTest.greetsGrace")
    assert task.plan.test_dirs == ("src/test/java",)
    assert "build.gradle" in task.hidden_tests  # an invalidator: restored at grading


def test_config_paths_are_read_relative_to_the_config_file(tmp_path):
    (tmp_path / "conf").mkdir()
    config = tmp_path / "conf" / "run.toml"
    config.write_text(
        'benchmark = "polyglot"\nbenchmark_path = "../bench"\nlanguages = ["go", "python"]\n'
    )
    loaded = RunConfig.load(config)
    assert loaded.benchmark_path == (tmp_path / "bench").resolve()
    assert loaded.benchmark_options() == {
        "path": (tmp_path / "bench").resolve(),
        "languages": ["go", "python"],
    }
    flagged = RunConfig.load(config, benchmark_path=Path("/elsewhere"))
    assert flagged.benchmark_path == Path("/elsewhere")


def test_unknown_or_absent_language_is_a_one_line_error():
    with pytest.raises(BenchmarkError, match="unknown polyglot language 'cobol'"):
        get_benchmark("polyglot", path=FIXTURE, languages="python,cobol")
    with pytest.raises(BenchmarkError, match="has no rust"):
        get_benchmark("polyglot", path=FIXTURE, languages=["rust"])


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
        ({}, "polyglot needs a local checkout.*--benchmark-path"),
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
