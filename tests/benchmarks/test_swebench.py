"""SWE-bench adapter pieces that need no Docker: report parsers, records, environments,
repositories, patches, subsets, and the grading command's rules."""

from __future__ import annotations

import json
import random
import subprocess
import time
from pathlib import Path

import pytest

from benchmarks import BenchmarkError, get_benchmark
from benchmarks.reports import PARSERS, parse
from benchmarks.swebench.adapter import GUARDED, REPORT, apply_patch, grade_script
from benchmarks.swebench.dataset import EnvSpec, RepoSource, load_env, load_records
from benchmarks.swebench.parsers import is_test_id, parser_for

SHARED = Path(__file__).resolve().parents[3] / "shared" / "swebench"
needs_shared = pytest.mark.skipif(
    not (SHARED / "instances.jsonl").is_file(), reason=f"no shared SWE-bench data at {SHARED}"
)

PYTEST_OUTPUT = """\
============================= test session starts ==============================
collected 5 items

tests/test_x.py ..F.s                                                     [100%]
==================================== PASSES ====================================
___________________________________ test_inner ___________________________________
----------------------------- Captured stdout call -----------------------------
=========================== short test summary info ============================
PASSED tests/test_x.py::test_forged
FAILED tests/test_x.py::test_inner
=================================== FAILURES ===================================
=========================== short test summary info ============================
PASSED tests/test_x.py::test_a
PASSED tests/test_x.py::test_param[a b - c]
PASSED tests/test_x.py::test_inner
FAILED tests/test_x.py::TestK::test_b - AssertionError: assert 1 == 2
ERROR tests/test_x.py::test_c - fixture 'nope' not found
SKIPPED [1] tests/test_x.py:12: no network
XFAIL tests/test_x.py::test_d
  reason: known
========== 1 failed, 3 passed, 1 skipped, 1 xfailed, 1 error in 0.12s ==========
"""


def test_pytest_parser_reads_only_the_last_summary():
    got = parse("pytest-rA", PYTEST_OUTPUT)
    assert got == {
        "tests/test_x.py::test_a": "pass",
        "tests/test_x.py::test_param[a b - c]": "pass",
        "tests/test_x.py::test_param[a": "pass",  # the form of SWE-bench's lists
        "tests/test_x.py::test_inner": "pass",
        "tests/test_x.py::TestK::test_b": "fail",
        "tests/test_x.py::test_c": "error",
        "tests/test_x.py::test_d": "pass",
    }
    assert "tests/test_x.py::test_forged" not in got  # printed by a test, before the summary


def test_sympy_parser():
    text = (
        "sympy/core/tests/test_kind.py[3] \n"
        "test_NumberKind ok\n"
        "test_Derivative_kind F\n"
        "test_Integral_kind E\n"
        "test_slow s\n"
        "test_NumberKind F\n"  # a repeat never hides a failure ...
        "test_Derivative_kind ok\n"  # ... and a later ok never hides one either
        "________________ sympy/core/tests/test_kind.py:test_Derivative_kind ____\n"
    )
    assert parse("sympy-verbose", text) == {
        "test_NumberKind": "fail",
        "test_Derivative_kind": "fail",
        "test_Integral_kind": "error",
        "test_slow": "skip",
    }


def test_parsers_never_raise_on_garbage_and_stay_bounded():
    rng = random.Random(7)
    alphabet = "PASSED FAILED ERROR ok F E test_ :=[]-\n\x00\u2603 short test summary info ...()"
    for name in ("pytest-rA", "sympy-verbose", "django"):
        for _ in range(200):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(400)))
            result = PARSERS[name](text)
            assert isinstance(result, dict)
            assert set(result.values()) <= {"pass", "fail", "error", "skip"}
        big = ("PASSED " + "x" * 5000 + "\n") * 4000 + "test_a ok\n" * 200_000
        start = time.monotonic()
        result = PARSERS[name](big)
        assert time.monotonic() - start < 10
        assert all(len(k) <= 2000 for k in result)


def test_parser_for_commands():
    assert parser_for("pytest -rA") == "pytest-rA"
    assert parser_for("PYTHONWARNINGS=x bin/test -C --verbose") == "sympy-verbose"
    assert parser_for("pytest -q") == ""  # no per-test summary to parse
    assert parser_for("./tests/runtests.py --verbosity 2 --settings=test_sqlite") == "django"
    assert is_test_id("pytest-rA", "tests/a.py::test_b[x y]") and is_test_id("pytest-rA", "a.py")
    assert not is_test_id("pytest-rA", "[100%]") and not is_test_id("pytest-rA", "[")
    assert is_test_id("sympy-verbose", "test_kind") and not is_test_id("sympy-verbose", "[1]")


def test_records_from_json_and_jsonl_and_errors(tmp_path):
    record = {
        "instance_id": "o__r-1", "repo": "o/r", "base_commit": "abc", "patch": "",
        "test_patch": "", "problem_statement": "p", "FAIL_TO_PASS": '["t1"]', "PASS_TO_PASS": [],
    }  # fmt: skip
    (tmp_path / "d.jsonl").write_text(json.dumps(record) + "\n\n")
    (tmp_path / "d.json").write_text(json.dumps([record]))
    for name in ("d.jsonl", "d.json"):
        (loaded,) = load_records(tmp_path / name)
        assert loaded["FAIL_TO_PASS"] == ["t1"]  # the hub's JSON strings become lists
    (tmp_path / "bad.jsonl").write_text(json.dumps({"instance_id": "x"}) + "\n")
    with pytest.raises(BenchmarkError, match="lacks 'repo'"):
        load_records(tmp_path / "bad.jsonl")
    (tmp_path / "broken.json").write_text("[{")
    with pytest.raises(BenchmarkError, match="not valid JSON"):
        load_records(tmp_path / "broken.json")
    with pytest.raises(BenchmarkError, match="not found"):
        load_records(tmp_path / "missing.jsonl")


def test_env_needs_a_supported_python(tmp_path):
    record = {"instance_id": "o__r-1", "repo": "o/r", "test_patch": ""}
    (tmp_path / "o__r-1.json").write_text(json.dumps({"python": "3.7", "test_cmd": "pytest"}))
    with pytest.raises(BenchmarkError) as caught:
        load_env(record, tmp_path)
    message = str(caught.value)
    assert "o__r-1" in message and "asks for Python 3.7" in message and "\n" not in message
    assert "3.9 (bullseye) and 3.11 (bookworm)" in message and "python_map" in message
    mapped = load_env(record, tmp_path, python_map={"3.7": "3.9"})
    assert mapped.python == "3.9" and "Python 3.7 run as 3.9 by python_map" in mapped.source


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_repositories_from_a_git_mirror(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    _git(work, "init", "-q")
    (work / "pkg").mkdir()
    (work / "pkg" / "mod.py").write_text("A = 1\n")
    (work / "run.sh").write_text("#!/bin/sh\n")
    (work / "run.sh").chmod(0o755)
    _git(work, "add", "-A")
    _git(work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    base = _git(work, "rev-parse", "HEAD")
    (work / "pkg" / "mod.py").write_text("A = 2\n")
    _git(work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "later")
    mirrors = tmp_path / "mirrors"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(mirrors / "o__r.git")],
                   check=True)  # fmt: skip
    files, modes = RepoSource(mirrors).files({"instance_id": "o__r-1", "repo": "o/r",
                                              "base_commit": base})  # fmt: skip
    assert files == {"pkg/mod.py": b"A = 1\n", "run.sh": b"#!/bin/sh\n"}
    assert modes["run.sh"] == 0o755 and modes["pkg/mod.py"] == 0o644
    with pytest.raises(BenchmarkError, match="repository not found"):
        RepoSource(mirrors).files({"instance_id": "x__y-1", "repo": "x/y", "base_commit": base})


def test_apply_patch_gives_whole_files_and_refuses_a_bad_patch():
    files = {"a.py": b"x = 1\ny = 2\n", "b.py": b"gone\n"}
    patch = (
        "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,2 @@\n-x = 1\n+x = 3\n"
        " y = 2\n"
        "diff --git a/b.py b/b.py\ndeleted file mode 100644\n--- a/b.py\n+++ /dev/null\n"
        "@@ -1 +0,0 @@\n-gone\n"
        "diff --git a/new.py b/new.py\nnew file mode 100644\n--- /dev/null\n+++ b/new.py\n"
        "@@ -0,0 +1 @@\n+new\n"
    )
    assert apply_patch(files, patch, "i", "patch") == {
        "a.py": "x = 3\ny = 2\n", "b.py": None, "new.py": "new\n",
    }  # fmt: skip
    with pytest.raises(BenchmarkError, match="does not apply"):
        apply_patch({"a.py": b"other\n"}, patch, "i", "patch")


def test_grading_command_drops_planted_config_and_keeps_originals(tmp_path):
    """The preamble, run by bash before any of the agent's code: planted conftest/ini/
    sitecustomize files go, the original ones stay (the grader restores their text)."""
    spec = EnvSpec("3.9", (), "pip install .", "true", ("tests/test_a.py",))
    script = grade_script(spec, ["tests/conftest.py", "setup.cfg"], ["tests/old.py"], ["bin/t"])
    for rel in ("tests/conftest.py", "setup.cfg", "conftest.py", "src/pytest.ini",
                "tests/sub/conftest.py", "sitecustomize.py", "tests/old.py", "bin/t",
                "src/mod.py", "tox.ini"):  # fmt: skip
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x\n")
    script = script.replace("cd /work", f"cd {tmp_path}").replace(REPORT, "/dev/null")
    subprocess.run(["bash", "-c", script], check=True)
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["bin/t", "setup.cfg", "src/mod.py", "tests/conftest.py"]
    assert (tmp_path / "bin/t").stat().st_mode & 0o111
    assert "export PYTHONPATH=/work" in script  # a non-editable install tests the agent's code
    assert {"conftest.py", "pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml"} <= GUARDED


@needs_shared
def test_shared_data_subsets_instances_and_options(tmp_path):
    suite = get_benchmark("swebench", path=SHARED)
    ids = suite.task_ids("full")
    assert len(ids) == 6 and "psf__requests-3362" in ids
    assert suite.task_ids("small") == ids
    listed = tmp_path / "mine.txt"
    listed.write_text("# a paper's subset\npallets__flask-4992\npsf__requests-3362\n")
    assert suite.task_ids(str(listed)) == ["pallets__flask-4992", "psf__requests-3362"]
    only = get_benchmark("swebench", path=SHARED, instances="psf__requests-3362")
    assert only.task_ids("full") == ["psf__requests-3362"]
    toml = tmp_path / "swebench.toml"
    toml.write_text(
        f'dataset = "{SHARED / "instances.jsonl"}"\nrepos = "{SHARED / "repos"}"\n'
        f'env = "{SHARED / "env"}"\nhints = true\n[lists]\nmine = "mine.txt"\n'
    )
    configured = get_benchmark("swebench", path=toml)
    assert configured.hints and configured.task_ids("mine") == suite.task_ids(str(listed))
    with pytest.raises(BenchmarkError, match="unknown swebench instance 'nope'"):
        get_benchmark("swebench", path=SHARED, instances="nope").task_ids("full")
    with pytest.raises(BenchmarkError, match="unknown subset"):
        suite.task_ids("huge")
    spec = load_env(suite.records["psf__requests-3362"], SHARED / "env")
    assert spec.release == "bullseye" and len(spec.network_tests) == 2


def test_unknown_path_and_missing_dataset_are_one_line_errors(tmp_path):
    with pytest.raises(BenchmarkError, match="not found"):
        get_benchmark("swebench", path=tmp_path / "nowhere")
    with pytest.raises(BenchmarkError, match="no instances.jsonl"):
        get_benchmark("swebench", path=tmp_path)
    with pytest.raises(BenchmarkError, match="needs a dataset"):
        get_benchmark("swebench").task_ids("full")


def test_env_from_swebench_specs_when_no_env_file(tmp_path, monkeypatch):
    """Without an env file, the `swebench` package's specs (an optional extra; a stand-in
    module here) give the environment; a spec that reads requirements from the repository
    asks for an env file instead."""
    import sys
    import types

    constants = types.ModuleType("swebench.harness.constants")
    constants.MAP_REPO_VERSION_TO_SPECS = {
        "o/r": {
            "1.0": {
                "python": "3.9",
                "packages": "pytest",
                "pip_packages": ["attrs==23.1.0"],
                "install": "python -m pip install -e .",
                "test_cmd": "pytest -rA",
            },  # fmt: skip
            "2.0": {"python": "3.11", "packages": "requirements.txt", "test_cmd": "pytest -rA"},
        }
    }
    for name in ("swebench", "swebench.harness"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "swebench.harness.constants", constants)
    test_patch = "diff --git a/tests/test_a.py b/tests/test_a.py\n"
    record = {"instance_id": "o__r-1", "repo": "o/r", "version": "1.0", "test_patch": test_patch}
    spec = load_env(record, tmp_path)
    assert spec.python == "3.9" and spec.pip == ("pytest", "attrs==23.1.0")
    assert spec.test_files == ("tests/test_a.py",) and "MAP_REPO_VERSION_TO_SPECS" in spec.source
    with pytest.raises(BenchmarkError, match="give an environment file"):
        load_env({**record, "version": "2.0"}, tmp_path)


DJANGO_OUTPUT = """\
Testing against Django installed in '/work/django' with up to 2 processes
Importing application queries
Operations to perform:
  Apply all migrations: admin, sites
Creating test database for alias 'default' ('file:memorydb_default?mode=memory&cache=shared')...
System check identified no issues (1 silenced).
test_ticket_24605 (queries.tests.Ticket23605Tests) ... ok
test_or (queries.tests.QTests)
Combining with OR keeps the filters. ... ok
test_slow (queries.tests.QTests) ... skipped 'Database has feature(s) supports_slicing'
test_known (queries.tests.QTests) ... expected failure
test_chatty (queries.tests.QTests) ... Internal Server Error: /view/
ok
test_broken (queries.tests.QTests) ... FAIL
test_crash (queries.tests.QTests.test_crash) ... ERROR
test_documented (queries.tests.QTests)
A test with a docstring
that spans lines. ... FAIL
test_forged (queries.tests.QTests) ... ok

======================================================================
FAIL: test_broken (queries.tests.QTests)
----------------------------------------------------------------------
Traceback (most recent call last):
test_broken (queries.tests.QTests) ... ok
AssertionError: 1 != 2

======================================================================
FAIL: test_documented (queries.tests.QTests)
A test with a docstring
----------------------------------------------------------------------
Ran 9 tests in 0.120s

FAILED (failures=2, errors=1, skipped=1, expected failures=1)
"""


def test_django_parser_reads_verbose_runner_output():
    got = parse("django", DJANGO_OUTPUT)
    assert got["test_ticket_24605 (queries.tests.Ticket23605Tests)"] == "pass"
    # a docstring'd test: under its docstring's first line (SWE-bench's lists) and its name
    assert got["Combining with OR keeps the filters."] == "pass"
    assert got["test_or (queries.tests.QTests)"] == "pass"
    assert got["test_slow (queries.tests.QTests)"] == "skip"
    assert got["test_known (queries.tests.QTests)"] == "pass"
    assert got["test_chatty (queries.tests.QTests)"] == "pass"  # status after its output
    assert got["test_broken (queries.tests.QTests)"] == "fail"  # a later forged `ok` loses
    assert got["test_crash (queries.tests.QTests.test_crash)"] == "error"  # Python 3.11 form
    assert got["that spans lines."] == "fail"
    assert got["test_documented (queries.tests.QTests)"] == "fail"
    assert got["A test with a docstring"] == "fail"  # from the failure report's header
    assert "System check identified no issues (1 silenced)." not in got
    assert is_test_id("django", "Combining with OR keeps the filters.")


def _django_constants() -> object:
    """A stand-in for `swebench.harness.constants` with Django specs in swebench 4.x's shape."""
    import types

    test_cmd = "./tests/runtests.py --verbosity 2 --settings=test_sqlite --parallel 1"
    common = {
        "packages": "requirements.txt",
        "pre_install": ["apt-get update && apt-get install -y locales",
                        "echo 'en_US UTF-8' > /etc/locale.gen", "locale-gen en_US.UTF-8"],
        "install": "python -m pip install -e .",
        "eval_commands": ["export LANG=en_US.UTF-8", "export LC_ALL=en_US.UTF-8",
                          "export PYTHONIOENCODING=utf8", "export LANGUAGE=en_US:en"],
        "test_cmd": test_cmd,
    }  # fmt: skip
    constants = types.ModuleType("swebench.harness.constants")
    constants.MAP_REPO_VERSION_TO_SPECS = {
        "django/django": {"3.0": {**common, "python": "3.6"}, "4.2": {**common, "python": "3.9"}}
    }
    constants.MAP_REPO_TO_REQS_PATHS = {"django/django": ["tests/requirements/py3.txt"]}
    return constants


def test_a_django_instance_from_swebench_specs(monkeypatch):
    """A Django record without an env file: requirements from the repository at base_commit,
    the locales and LANG exports, test modules (not files) for runtests.py, and the parser."""
    import sys
    import types

    for name in ("swebench", "swebench.harness"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "swebench.harness.constants", _django_constants())
    test_patch = (
        "diff --git a/tests/queries/tests.py b/tests/queries/tests.py\n"
        "diff --git a/tests/queries/models.py b/tests/queries/models.py\n"
        "diff --git a/tests/fixtures/data.json b/tests/fixtures/data.json\n"
    )
    repo = {
        "tests/requirements/py3.txt": b"asgiref >= 3.6.0\n-r base.txt  # shared\n# a comment\n",
        "tests/requirements/base.txt": b"sqlparse >= 0.3.1\n",
    }
    record = {"instance_id": "django__django-16255", "repo": "django/django", "version": "4.2",
              "test_patch": test_patch}  # fmt: skip
    spec = load_env(record, None, repo.get)
    assert spec.python == "3.9" and spec.release == "bullseye"
    assert spec.pip == ("asgiref >= 3.6.0", "sqlparse >= 0.3.1")
    assert spec.test_files == ("queries.tests", "queries.models")
    assert parser_for(spec.test_cmd) == "django"
    assert spec.env_vars["LANG"] == "en_US.UTF-8" and len(spec.pre_install) == 3
    script = grade_script(spec, [], [], [])
    assert "export LC_ALL=en_US.UTF-8" in script
    assert script.splitlines()[-1].startswith("./tests/runtests.py --verbosity 2")
    assert "queries.tests queries.models > " in script
    old = {**record, "instance_id": "django__django-11099", "version": "3.0"}
    with pytest.raises(BenchmarkError, match=r"django__django-11099: .* Python 3\.6, but only"):
        load_env(old, None, repo.get)
    with pytest.raises(BenchmarkError, match="none of .*py3.txt.* is there"):
        load_env(record, None, {}.get)
