"""`run_task` in real Docker with the real gateway: the seed agent, and agents that misbehave."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from benchmarks import Outcome, get_benchmark
from dgm.evaluate import TaskResult, log_name, run_task
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
