"""The SWE-bench adapter over the shared instances, in real Docker: images built (and
cached), tasks built from them (the repository is the image's base tree), graded by the
shared clean-room grader from the agent's delta."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from benchmarks import Outcome, basetree, get_benchmark
from benchmarks.reports import parse
from benchmarks.swebench.dataset import patch_files
from benchmarks.swebench.images import ImageBuildError
from sandbox import Sandbox, SandboxConfig

SHARED = Path(__file__).resolve().parents[3] / "shared" / "swebench"
pytestmark = [
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.skipif(
        not (SHARED / "instances.jsonl").is_file(), reason=f"no shared SWE-bench data at {SHARED}"
    ),
]
ALL = [
    "psf__requests-3362",
    "pytest-dev__pytest-7432",
    "sympy__sympy-21614",
    "pallets__flask-4992",
    "pallets__flask-5063",
    "pytest-dev__pytest-5227",
]
CHEAT_CONFTEST = """\
import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    outcome.get_result().outcome = "passed"
"""


@pytest.fixture(scope="module")
def suite(docker_daemon):
    return get_benchmark("swebench", path=SHARED)


def workspace(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "result"
    root.mkdir(parents=True)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def base_files(suite, task) -> dict[str, str]:
    """The repository at base_commit, read on the host (text files)."""
    raw, _ = suite.repos.files(suite.records[task.id])
    return {rel: data.decode("utf-8", "replace") for rel, data in raw.items()}


def broken(suite, task) -> dict[str, str]:
    """A delta with a harmless edit to a source file the gold patch touches: changed, but not
    fixed."""
    rel = sorted(p for p in task.reference if p.endswith(".py"))[0]
    return {rel: base_files(suite, task)[rel] + "\n# an unhelpful change\n"}


@pytest.mark.parametrize("iid", ALL)
def test_gold_patch_resolves(suite, iid, tmp_path):
    task = suite.task(iid)
    assert task.image and task.image.startswith("dgm-swebench:")
    assert task.base_tree == "/work-base" and task.files == {}  # nothing of it travels
    graded = suite.grade(task, workspace(tmp_path, task.reference))
    assert graded.outcome is Outcome.RESOLVED, graded.output
    assert all(graded.tests[t] == "pass" for t in task.plan.expected)


@pytest.mark.parametrize("iid", ALL)
def test_workspace_holds_no_test_of_the_test_patch(suite, iid):
    """The solve workspace, seeded from the image's base tree, holds the base_commit version
    of every file test_patch touches (none it adds); the tree is read-only to the agent."""
    task = suite.task(iid)
    record = suite.records[iid]
    touched = patch_files(record["test_patch"])
    base, _ = suite.repos.files(record)
    with Sandbox(SandboxConfig(image=task.image)) as sb:
        assert sb.run(basetree.seed_command(task.base_tree), cwd="/").exit_code == 0
        for rel in touched:
            assert rel in task.hidden_tests or rel not in base  # restored at grading
            seen = sb.read_file(f"/work/{rel}", 2**24)
            if rel in base:  # the base_commit version, not the one with the new tests
                assert seen == base[rel]
                assert seen.decode() != task.hidden_tests.get(rel)
            else:  # a file test_patch adds is not in the workspace
                assert seen is None
        binary = [rel for rel, data in sorted(base.items()) if b"\0" in data][:1]
        for rel in binary:  # binary fixtures are there too (no text round trip on the host)
            assert sb.read_file(f"/work/{rel}", 2**24) == base[rel]
        some = sorted(base)[0]
        assert sb.run(["rm", "-f", f"/work-base/{some}"]).exit_code != 0
        assert sb.run(["test", "-f", f"/work-base/{some}"]).exit_code == 0
        writable = sb.run(["find", "/work-base", "(", "-perm", "/022", "-o", "!", "-user", "0",
                           ")", "-print", "-quit"])  # fmt: skip
        assert writable.exit_code == 0 and writable.stdout == ""
    assert record["test_patch"] not in task.problem


def test_network_tests_are_excluded_visibly(suite):
    task = suite.task("psf__requests-3362")
    excluded = json.loads(task.meta["excluded_tests"])
    assert len(excluded) == 2 and all("TestTimeout" in t for t in excluded)
    assert "2 need a network" in task.meta["excluded_why"]
    assert not set(excluded) & set(task.plan.expected)
    record = suite.records["psf__requests-3362"]
    assert len(task.plan.expected) == len(record["FAIL_TO_PASS"] + record["PASS_TO_PASS"]) - 2


def test_empty_and_wrong_answers(suite, tmp_path):
    task = suite.task("psf__requests-3362")
    assert suite.grade(task, workspace(tmp_path / "e", {})).outcome is Outcome.EMPTY
    graded = suite.grade(task, workspace(tmp_path / "w", broken(suite, task)))
    assert graded.outcome is Outcome.UNRESOLVED
    (f2p,) = suite.records["psf__requests-3362"]["FAIL_TO_PASS"]
    assert graded.tests[f2p] == "fail" and f2p in graded.output


def test_list_artifacts_are_excluded_visibly(suite):
    """pytest-5227's PASS_TO_PASS holds `[100%]` and the like (wrapped status lines that
    SWE-bench's log parser took for tests): no report can name them, so they are left out."""
    task = suite.task("pytest-dev__pytest-5227")
    excluded = json.loads(task.meta["excluded_tests"])
    assert "[100%]" in excluded and not set(excluded) & set(task.plan.expected)
    assert "not test ids" in task.meta["excluded_why"]
    assert all("::" in t for t in task.plan.expected)


@pytest.mark.parametrize("iid", ["pytest-dev__pytest-7432", "pallets__flask-4992"])
def test_edited_tests_and_planted_config_do_not_change_the_verdict(suite, iid, tmp_path):
    """The agent rewrites the hidden test files, plants a conftest.py that reports every
    test passed, a pytest.ini and a sitecustomize.py: graded on the original tests."""
    task = suite.task(iid)
    cheats = {
        "conftest.py": CHEAT_CONFTEST,
        "pytest.ini": "[pytest]\naddopts = -p no:cacheprovider\n",
        "sitecustomize.py": "import sys; sys.exit(0)\n",
    }
    base = base_files(suite, task)
    for rel in task.hidden_tests:
        if rel.endswith(".py") and "conftest" not in rel and rel in base:
            cheats[rel] = "def test_fine():\n    pass\n"
    test_dir = str(Path(task.plan.expected[0].split("::")[0]).parent)
    cheats[f"{test_dir}/conftest.py"] = CHEAT_CONFTEST

    # The cheat works where nothing removes it: the not-fixed answer "passes" in a plain run.
    plain = {**broken(suite, task), **task.hidden_tests, "conftest.py": CHEAT_CONFTEST}
    root = workspace(tmp_path / "plain", plain)
    with Sandbox(SandboxConfig(image=task.image)) as sb:
        sb.run(basetree.seed_command(task.base_tree), cwd="/")
        sb.copy_in(root, "/work")
        command = task.grade_command[-1].split("\n")[-1]  # the test command without preamble
        sb.run(["bash", "-c", "cd /work && " + command], timeout=task.time_limit)
        forged = parse(
            task.plan.report_format, (sb.read_file(task.plan.report_path) or b"").decode()
        )
    assert all(forged.get(t) == "pass" for t in task.plan.expected)

    graded = suite.grade(task, workspace(tmp_path / "cheat", {**broken(suite, task), **cheats}))
    assert graded.outcome is Outcome.UNRESOLVED, graded.output
    fixed = suite.grade(task, workspace(tmp_path / "fixed", {**task.reference, **cheats}))
    assert fixed.outcome is Outcome.RESOLVED, fixed.output


def test_image_builds_are_cached(suite):
    suite.prepare_instance("psf__requests-3362")  # built (or found) once
    start = time.monotonic()
    info = suite.prepare_instance("psf__requests-3362")
    assert info["built"] == [] and time.monotonic() - start < 15
    assert info["size_mb"] > 100 and info["python"] == "3.9"


def test_sandbox_scripts_run_on_the_images_python_39(suite, tmp_path):
    """The runner, the copy-out packer and the grading harness run with the image's own
    python3 (3.9 on bullseye): a whole session round trip in a SWE-bench image."""
    task = suite.task("psf__requests-3362")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("hello\n")
    with Sandbox(SandboxConfig(image=task.image)) as sb:
        sb.copy_in(tmp_path / "in", "/work")
        res = sb.run(["python3", "-c", "import sys; print(sys.version_info[:2])"])
        assert res.exit_code == 0 and "(3, 9)" in res.stdout
        sb.run(["bash", "-c", "echo log > /out/log.md"])
        refused = sb.copy_out_many({"/work": tmp_path / "w", "/out": tmp_path / "o"})
    assert not refused
    assert (tmp_path / "w" / "a.txt").read_text() == "hello\n"
    assert (tmp_path / "o" / "log.md").read_text() == "log\n"


def test_a_failed_build_names_the_instance_and_step_and_keeps_its_log(tmp_path, docker_daemon):
    record = next(
        line for line in (SHARED / "instances.jsonl").read_text().splitlines()
        if '"psf__requests-3362"' in line
    )  # fmt: skip
    (tmp_path / "instances.jsonl").write_text(record + "\n")
    (tmp_path / "env").mkdir()
    env = json.loads((SHARED / "env" / "psf__requests-3362.json").read_text())
    env["pip"] = ["dgm-no-such-package-anywhere==0.0.1"]
    (tmp_path / "env" / "psf__requests-3362.json").write_text(json.dumps(env))
    (tmp_path / "repos").symlink_to(SHARED / "repos")
    suite = get_benchmark("swebench", path=tmp_path)
    suite.builder.logs = tmp_path / "logs"
    with pytest.raises(ImageBuildError) as caught:
        suite.task("psf__requests-3362")
    message = str(caught.value)
    assert "psf__requests-3362" in message and "step 'requirements'" in message
    assert "\n" not in message and caught.value.exit_code == 1
    log = tmp_path / "logs" / "psf__requests-3362-requirements.log"
    assert str(log) in message and "dgm-no-such-package-anywhere" in log.read_text()


def test_deleted_base_files_are_gone_when_graded(suite, tmp_path):
    """A delta's deletions count: the gold patch still resolves with an unrelated file
    deleted, and not with a module the tests import deleted; a deletion alone is no `empty`."""
    task = suite.task("psf__requests-3362")
    answer = workspace(tmp_path / "gold", task.reference)
    assert suite.grade(task, answer, deleted=["HISTORY.rst"]).outcome is Outcome.RESOLVED
    graded = suite.grade(task, answer, deleted=["requests/hooks.py"])
    assert graded.outcome is Outcome.UNRESOLVED, graded.output
    alone = suite.grade(task, workspace(tmp_path / "none", {}), deleted=["HISTORY.rst"])
    assert alone.outcome is Outcome.UNRESOLVED


def test_only_the_delta_is_copied_out_and_the_diff_is_ours(suite, tmp_path):
    """After the agent, the image's Python (run isolated, after every process is killed)
    drops what equals the base tree: only changed and added files come out, deletions (also
    under a directory the agent replaced with a link) are listed, and `changes.diff` is
    made on the host from the base text that came back with the manifest."""
    from dgm.evolve.diffs import workspace_diff
    from dgm.evolve.evaluate import _collect

    task = suite.task("psf__requests-3362")
    agent = (
        "cd /work && echo '# changed' >> requests/api.py && echo new > added.txt && "
        "rm HISTORY.rst && mv docs /tmp/docs && ln -s /tmp/docs docs && "
        "chmod 555 requests/packages && "
        "printf 'import os\\nos.system(\"touch /work/forged\")\\n' > sitecustomize.py && "
        "(sleep 1000 > /dev/null 2>&1 &)"
    )
    with Sandbox(SandboxConfig(image=task.image)) as sb:
        assert sb.run(basetree.seed_command(task.base_tree), cwd="/").exit_code == 0
        assert sb.run(["sh", "-c", agent]).exit_code == 0
        problems, delta = _collect(sb, task, tmp_path / "result", tmp_path / "out")
    left = sorted(p.relative_to(tmp_path / "result").as_posix()
                  for p in (tmp_path / "result").rglob("*") if p.is_file())  # fmt: skip
    assert left == ["added.txt", "requests/api.py", "sitecustomize.py"]
    assert delta.changed == ("requests/api.py",) and "HISTORY.rst" in delta.deleted
    assert any(d.startswith("docs/") for d in delta.deleted)
    assert "links" in problems and "docs" in problems["links"]
    diff = workspace_diff(task, tmp_path / "result", delta)
    assert "+# changed" in diff and "--- a/requests/api.py" in diff
    assert "--- a/HISTORY.rst" in diff and "+++ b/added.txt" in diff
