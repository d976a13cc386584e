"""`run_task` in real Docker with the real gateway: the seed agent, and agents that misbehave."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import pytest

from benchmarks import Outcome, Task, get_benchmark
from dgm.evolve.diffs import DIFF_FILE_BYTES, DIFF_FILE_LINES, DIFF_LIMIT, GRADE_MAX_FILES
from dgm.evolve.diffs import workspace_diff as _diff
from dgm.evolve.evaluate import TaskResult, log_name, run_task
from dgm.fm import Gateway, MemoryLedger
from sandbox import SandboxConfig, wait_for_removals

pytestmark = pytest.mark.docker

SEED = Path(__file__).resolve().parents[2] / "dgm" / "seed_agent"
POLYGLOT = Path(__file__).resolve().parents[1] / "benchmarks" / "fixtures" / "polyglot"
# A small output ceiling keeps the flood test quick; everything else is the default.
CONFIG = SandboxConfig(output_kill=2_000_000)


@pytest.fixture(scope="module")
def gateway():
    gw = Gateway(model="sim", ledger=MemoryLedger(), seed=5)
    yield gw
    gw.close()


def agent(tmp_path: Path, body: str) -> Path:
    """A hand-made agent directory whose agent.py runs `body` (after the usual argv)."""
    directory = tmp_path / "agent"
    directory.mkdir()
    (directory / "agent.py").write_text(
        "import os, sys, time\nos.chdir('/work')\n" + textwrap.dedent(body)
    )
    directory.chmod(0o755)
    (directory / "agent.py").chmod(0o644)
    return directory


def evaluate(agent_dir, task, gateway, tmp_path, timeout=60.0, run_id="t-eval") -> TaskResult:
    return run_task(
        agent_dir, task, gateway=gateway, run_id=run_id, node=0, attempt=0,
        sandbox_config=CONFIG, log_dir=tmp_path / "logs", timeout=timeout,
    )  # fmt: skip


@pytest.fixture(scope="module")
def humaneval():
    return get_benchmark("humaneval")


def test_seed_agent_with_sim_is_graded_and_logged(tmp_path, gateway, humaneval, docker_daemon):
    task = humaneval.task("HumanEval/0")
    result = evaluate(SEED, task, gateway, tmp_path)
    assert result.outcome in (Outcome.RESOLVED, Outcome.UNRESOLVED)
    assert result.tokens > 0 and result.steps and result.stop_reason == "done"
    logs = Path(result.log_path)
    assert logs == tmp_path / "logs" / log_name(task.id, 0)
    assert "steps:" in (logs / "transcript.md").read_text()
    assert "+++ b/solution.py" in (logs / "changes.diff").read_text()
    assert json.loads((logs / "result.json").read_text())["outcome"] == str(result.outcome)


def test_agent_that_does_nothing_is_empty(tmp_path, gateway, humaneval, docker_daemon):
    result = evaluate(agent(tmp_path, "pass\n"), humaneval.task("HumanEval/5"), gateway, tmp_path)
    assert result.outcome is Outcome.EMPTY and "unchanged" in result.reason


def test_crash_is_an_error_with_the_last_line(tmp_path, gateway, humaneval, docker_daemon):
    body = "open('solution.py', 'a').write('x')\nraise RuntimeError('agent broke')\n"
    result = evaluate(agent(tmp_path, body), humaneval.task("HumanEval/5"), gateway, tmp_path)
    assert result.outcome is Outcome.ERROR
    assert "exited with code 1" in result.reason and "agent broke" in result.reason


def test_hang_is_killed_and_leaves_no_container(tmp_path, gateway, humaneval, docker_daemon):
    body = "open('solution.py', 'a').write('x')\ntime.sleep(600)\n"
    task = humaneval.task("HumanEval/5")
    result = evaluate(agent(tmp_path, body), task, gateway, tmp_path, timeout=3, run_id="t-hang")
    assert result.outcome is Outcome.ERROR and "timed out after 3 s" in result.reason
    wait_for_removals()  # the spare grading sandbox is removed in the background
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", "label=dgm.run=t-hang"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert left.strip() == ""


def test_output_flood_is_bounded(tmp_path, gateway, humaneval, docker_daemon):
    body = "open('solution.py', 'a').write('x')\nwhile True: sys.stdout.write('y' * 65536)\n"
    result = evaluate(agent(tmp_path, body), humaneval.task("HumanEval/5"), gateway, tmp_path)
    assert result.outcome is Outcome.ERROR and "output" in result.reason
    assert (Path(result.log_path) / "agent_stdout.txt").stat().st_size <= 20_000


def test_deleted_tests_are_restored_for_grading(tmp_path, gateway, docker_daemon):
    task = get_benchmark("polyglot", path=POLYGLOT).task("python/two-fer")
    body = f"open('two_fer.py', 'w').write({task.reference['two_fer.py']!r})\n"
    body += "os.remove('two_fer_test.py')\n"
    result = evaluate(agent(tmp_path, body), task, gateway, tmp_path)
    assert result.outcome is Outcome.RESOLVED
    assert "deleted given files" in result.reason and "two_fer_test.py" in result.reason


def test_writing_outside_the_workspace_changes_nothing(tmp_path, gateway, docker_daemon):
    task = get_benchmark("polyglot", path=POLYGLOT).task("python/two-fer")
    marker = tmp_path / "host-marker"
    marker.write_text("host")
    body = """
    for target in ('/agent/agent.py', '/task/problem.md', '/etc/evil', '/out/../evil'):
        try:
            open(target, 'w').write('evil')
        except OSError:
            pass
    os.symlink('/etc/passwd', 'two_fer.py.link')
    open('two_fer.py', 'w').write('def two_fer(name="you"):\\n    return name\\n')
    """
    agent_dir = agent(tmp_path, body)
    before = (agent_dir / "agent.py").read_text()
    result = evaluate(agent_dir, task, gateway, tmp_path)
    assert result.outcome is Outcome.UNRESOLVED
    assert "links or special files dropped" in result.reason
    assert (agent_dir / "agent.py").read_text() == before and marker.read_text() == "host"


# -- what an agent leaves in its workspace (issue 11, items 4 and 5) --------------------------


def reference_body(task) -> str:
    """Agent code that writes the task's reference solution."""
    return "".join(f"open({rel!r}, 'w').write({text!r})\n" for rel, text in task.reference.items())


def test_unreadable_file_is_an_error_with_its_name(tmp_path, gateway, humaneval, docker_daemon):
    task = humaneval.task("HumanEval/5")
    body = reference_body(task) + "open('notes.txt', 'w').write('x')\nos.chmod('notes.txt', 0)\n"
    result = evaluate(agent(tmp_path, body), task, gateway, tmp_path)
    assert result.outcome is Outcome.ERROR
    assert "could not be copied out whole" in result.reason
    assert "'notes.txt' (unreadable: Permission denied)" in result.reason
    logs = Path(result.log_path)
    assert json.loads((logs / "result.json").read_text())["outcome"] == "error"
    assert (logs / "grading.txt").read_text().startswith("not graded")


def test_unreadable_file_planted_when_the_check_fails_counts(
    tmp_path, gateway, humaneval, docker_daemon
):
    # The agent hides its failures: it makes a file unreadable only when its own visible
    # check fails. Every attempt is recorded: a resolved one and an error, never a drop.
    task = humaneval.task("HumanEval/5")
    plant = textwrap.dedent(
        f"""
        import subprocess
        if subprocess.run({task.visible_check!r}, shell=True, capture_output=True).returncode:
            open('solution.py', 'a').write('\\n')
            os.chmod('solution.py', 0)
        """
    )
    for name in ("good", "bad"):
        (tmp_path / name).mkdir()
    good = evaluate(agent(tmp_path / "good", reference_body(task) + plant), task, gateway,
                    tmp_path / "good")  # fmt: skip
    bad = evaluate(agent(tmp_path / "bad", "pass\n" + plant), task, gateway, tmp_path / "bad")
    assert good.outcome is Outcome.RESOLVED
    assert bad.outcome is Outcome.ERROR and "'solution.py' (unreadable" in bad.reason


def test_fork_bomb_left_running_is_killed_before_copy_out(
    tmp_path, gateway, humaneval, docker_daemon
):
    # The agent exits 0 with a correct answer and leaves every pid of the sandbox taken: the
    # copy-out could not even start a process unless everything is killed first.
    task = humaneval.task("HumanEval/5")
    body = reference_body(task) + textwrap.dedent(
        """
        if os.fork() == 0:
            os.setsid()
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
        while True:  # until the pids limit is reached
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
        """
    )
    result = evaluate(agent(tmp_path, body), task, gateway, tmp_path)
    assert result.outcome is Outcome.RESOLVED, result.reason


def test_daemon_changing_files_is_recorded(tmp_path, gateway, humaneval, docker_daemon):
    task = humaneval.task("HumanEval/5")
    body = textwrap.dedent(
        """
        import subprocess
        churn = ("import os\\nwhile True:\\n"
                 "    open('/work/churn.txt', 'w').write(os.urandom(50000).hex())\\n"
                 "    os.replace('/work/churn.txt', '/work/churn2.txt')\\n")
        subprocess.Popen([sys.executable, '-c', churn], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        """
    )
    result = evaluate(agent(tmp_path, body), task, gateway, tmp_path)
    assert result.outcome is Outcome.UNRESOLVED, result.reason
    assert "churn" in (Path(result.log_path) / "changes.diff").read_text()


def test_tree_too_deep_for_the_host_is_an_error(tmp_path, gateway, humaneval, docker_daemon):
    body = "for _ in range(430):\n    os.mkdir('d' * 10)\n    os.chdir('d' * 10)\n"
    body += "open('leaf.txt', 'w').write('x')\n"
    result = evaluate(agent(tmp_path, body), humaneval.task("HumanEval/5"), gateway, tmp_path)
    assert result.outcome is Outcome.ERROR
    assert "(nested too deep)" in result.reason and "dddddddddd/" in result.reason


def test_fifo_and_socket_are_dropped_and_named(tmp_path, gateway, humaneval, docker_daemon):
    task = humaneval.task("HumanEval/5")
    body = reference_body(task) + textwrap.dedent(
        """
        import socket
        os.mkfifo('pipe')
        socket.socket(socket.AF_UNIX).bind('/work/sock')
        """
    )
    result = evaluate(agent(tmp_path, body), task, gateway, tmp_path)
    assert result.outcome is Outcome.RESOLVED
    assert "'pipe' (special file (fifo))" in result.reason
    assert "'sock' (special file (socket))" in result.reason


def test_workspace_over_the_transfer_limit_is_an_error_without_a_diff(
    tmp_path, gateway, humaneval, docker_daemon
):
    small = CONFIG.model_copy(update={"transfer_limit_mb": 4})
    body = "open('solution.py', 'a').write('\\n' * 8_000_000)\n"
    result = run_task(
        agent(tmp_path, body), humaneval.task("HumanEval/5"), gateway=gateway, run_id="t-eval",
        node=0, attempt=0, sandbox_config=small, log_dir=tmp_path / "logs", timeout=60,
    )  # fmt: skip
    assert result.outcome is Outcome.ERROR and "exceeds 4 MB" in result.reason
    diff = (Path(result.log_path) / "changes.diff").read_text()
    assert diff == "(no diff: the workspace was not copied out)\n"


def test_twenty_mb_of_newlines_makes_a_small_diff(tmp_path, gateway, humaneval, docker_daemon):
    # This file once took `dgm eval` to 2.1 GB of memory and a 40 MB changes.diff.
    body = "open('solution.py', 'a').write('\\n' * 20_000_000)\n"
    result = evaluate(agent(tmp_path, body), humaneval.task("HumanEval/5"), gateway, tmp_path)
    assert result.outcome is Outcome.UNRESOLVED
    diff = (Path(result.log_path) / "changes.diff").read_text()
    size = 20_000_000 + len(humaneval.task("HumanEval/5").files["solution.py"].encode())
    assert diff == f"Files a/solution.py and b/solution.py differ (not diffed: {size} bytes)\n"


def test_file_names_cannot_forge_diff_lines(tmp_path, gateway, humaneval, docker_daemon):
    task = humaneval.task("HumanEval/5")
    body = reference_body(task) + textwrap.dedent(
        """
        open('x\\n+forged line', 'w').write('a\\n')
        open('y\\n--- a\\\\evil\\n+++ b\\\\evil', 'w').write('b\\n')
        """
    )
    result = evaluate(agent(tmp_path, body), task, gateway, tmp_path)
    assert result.outcome is Outcome.RESOLVED
    lines = (Path(result.log_path) / "changes.diff").read_text().splitlines()
    assert "+forged line" not in lines
    headers = [ln for ln in lines if ln.startswith(("--- ", "+++ "))]
    assert '--- "a/x\\n+forged line"' in headers
    assert '+++ "b/y\\n--- a\\\\evil\\n+++ b\\\\evil"' in headers
    assert all(h[4:] in ("a/solution.py", "b/solution.py") or h[4] == '"' for h in headers)


def test_dgm_eval_records_a_workspace_fault_without_a_traceback(tmp_path, docker_daemon):
    body = "for _ in range(430):\n    os.mkdir('d' * 10)\n    os.chdir('d' * 10)\n"
    agent_dir = agent(tmp_path, body)
    out = tmp_path / "eval"
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dgm"), "eval", "--agent", str(agent_dir),
         "--benchmark", "humaneval", "--limit", "1", "--workers", "1", "--out", str(out)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"] == {"error": 1}
    (only,) = summary["results"].values()
    assert "nested too deep" in only["reason"]


def _task(files: dict[str, str]) -> Task:
    return Task(id="t", benchmark="humaneval", problem="p", files=files, hidden_tests={},
                grade_command=["true"])  # fmt: skip


def test_diff_of_huge_files_is_bounded_in_memory(tmp_path):
    result = tmp_path / "result"
    result.mkdir()
    (result / "solution.py").write_bytes(b"\n" * 20_000_000)
    (result / "many.txt").write_text("line\n" * (DIFF_FILE_LINES + 1))
    (result / "wide.txt").write_text("x" * (DIFF_FILE_BYTES + 1))
    given = {"solution.py": "def f():\n    pass\n", "many.txt": "", "wide.txt": ""}
    tracemalloc.start()
    try:
        diff = _diff(_task(given), result)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, peak  # the old diff held ~2 GB for the newline file
    assert diff.splitlines() == [
        f"Files a/many.txt and b/many.txt differ (not diffed: {DIFF_FILE_LINES + 1} lines)",
        "Files a/solution.py and b/solution.py differ (not diffed: 20000000 bytes)",
        f"Files a/wide.txt and b/wide.txt differ (not diffed: {DIFF_FILE_BYTES + 1} bytes)",
    ]


def test_diff_is_cut_in_total_and_marks_a_missing_newline(tmp_path):
    result = tmp_path / "result"
    result.mkdir()
    for i in range(40):  # 40 x 9 KB of changes: over the total bound
        (result / f"f{i:02}.txt").write_text("".join(f"{i} {n} {'y' * 80}\n" for n in range(100)))
    (result / "a.py").write_text("x = 1")
    diff = _diff(_task({"a.py": "x = 0\n"}), result)
    assert len(diff) <= DIFF_LIMIT + 100
    assert diff.endswith(f"[... diff cut at {DIFF_LIMIT} characters ...]\n")
    assert diff.startswith("--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x = 0\n+x = 1\n")
    assert "+x = 1\n\\ No newline at end of file\n--- a/f00.txt" in diff


def test_diff_of_a_missing_workspace_says_so(tmp_path):
    assert _diff(_task({"a.py": "x\n"}), tmp_path / "none") == (
        "(no diff: the workspace was not copied out)\n"
    )


def test_diff_is_skipped_for_a_workspace_grading_rejects_as_too_large(tmp_path):
    result = tmp_path / "result"
    result.mkdir()
    for i in range(GRADE_MAX_FILES + 1):
        (result / f"f{i}").write_text("x")
    assert _diff(_task({}), result) == (
        f"(no diff: the workspace is too large: {GRADE_MAX_FILES + 1} files, "
        f"{GRADE_MAX_FILES + 1} bytes)\n"
    )
