"""The offline `sim` model's behaviour and its catalogue of changes to the seed agent."""

from __future__ import annotations

import json
import py_compile
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dgm.evolve import improve
from dgm.fm.sim import model as sim
from dgm.fm.sim.catalogue import apply_change, load_catalogue
from dgm.fm.sim.catalogue.faults import inject_fault
from dgm.fm.sim.types import SimRequest

SEED = Path(__file__).resolve().parents[3] / "dgm" / "seed_agent"
TOOLS = [{"type": "function", "function": {"name": n}} for n in ("bash", "editor")]
REFERENCE = {
    "sol.py": "def f(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total\n"
}


def request(messages, role="solve", context=None, **kw) -> SimRequest:
    base = dict(seed=1, node=0, task="t", attempt=0, call_index=len(messages), fault_rate=0.0)
    base.update(kw)
    context = context if context is not None else {"reference": REFERENCE, "visible_check": "c"}
    return SimRequest(messages=messages, tools=TOOLS, role=role, context=context, **base)


def tool_turn(reply: dict, outputs: list[str]) -> list[dict]:
    """The assistant message plus the tool results an agent would append."""
    out = [reply]
    for call, text in zip(reply["tool_calls"], outputs, strict=True):
        out.append({"role": "tool", "tool_call_id": call["id"], "content": text})
    return out


def start(system: str) -> list[dict]:
    return [{"role": "system", "content": system}, {"role": "user", "content": "Solve it."}]


def written(reply: dict) -> str:
    return json.loads(reply["tool_calls"][0]["function"]["arguments"])["file_text"]


def test_solve_protocol_without_testing():
    msgs = start("You are an agent.")
    look = sim.respond(request(msgs))
    assert look["tool_calls"][0]["function"]["name"] == "bash"
    msgs += tool_turn(look, ["sol.py\n[exit code: 0]"])
    write = sim.respond(request(msgs))
    assert written(write) == REFERENCE["sol.py"]
    msgs += tool_turn(write, ["created sol.py"])
    done = sim.respond(request(msgs))
    assert done["tool_calls"] is None and done["content"]


def test_solve_runs_the_check_and_rewrites_when_asked_to_test_first():
    msgs = start("Before finishing, run the check command and fix failures.")
    msgs += tool_turn(sim.respond(request(msgs)), ["[exit code: 0]"])
    msgs += tool_turn(sim.respond(request(msgs)), ["created sol.py"])
    check = sim.respond(request(msgs))
    assert json.loads(check["tool_calls"][0]["function"]["arguments"]) == {"command": "c"}
    msgs += tool_turn(check, ["AssertionError\n[exit code: 1]"])
    rewrite = sim.respond(request(msgs))
    assert rewrite["tool_calls"][0]["function"]["name"] == "editor"
    msgs += tool_turn(rewrite, ["created sol.py"])
    msgs += tool_turn(sim.respond(request(msgs)), ["ok\n[exit code: 0]"])
    assert sim.respond(request(msgs))["tool_calls"] is None


def test_faults_are_deterministic_and_vary_by_write():
    msgs = start("x")
    msgs += tool_turn(sim.respond(request(msgs)), ["[exit code: 0]"])
    answers = {written(sim.respond(request(msgs, seed=s, fault_rate=1.0))) for s in range(20)}
    assert len(answers) > 3 and REFERENCE["sol.py"] not in answers
    again = sim.respond(request(msgs, seed=3, fault_rate=1.0))
    assert again == sim.respond(request(msgs, seed=3, fault_rate=1.0))


def test_inject_fault_changes_code_not_docstrings():
    code = 'def f(a, b):\n    """Return a < b."""\n    return a < b\n'
    for s in range(10):
        out = inject_fault(code, np.random.default_rng(s))
        assert out != code and '"""Return a < b."""' in out
        compile(out, "f.py", "exec")


def test_diagnose_answers_a_parseable_catalogue_change():
    catalogue = load_catalogue()
    source = improve.source_summary(SEED)
    msgs = [{"role": "user", "content": f"# The agent's source\n{source}"}]
    ids, malformed = [], 0
    for s in range(60):
        reply = sim.respond(request(msgs, role="diagnose", context={}, seed=s))
        try:
            diagnosis = improve.parse_diagnosis(reply["content"])
        except improve.DiagnosisError:
            malformed += 1
            continue
        assert diagnosis.change_id in catalogue and diagnosis.problem_statement
        ids.append(diagnosis.change_id)
    assert len(set(ids)) >= 4 and 0 < malformed < 12
    kinds = {catalogue[i].kind for i in ids}
    assert kinds == {"good", "harmful", "broken"}


def test_broken_weight_steers_how_often_a_broken_change_is_proposed():
    catalogue = load_catalogue()
    source = improve.source_summary(SEED)
    msgs = [{"role": "user", "content": f"# The agent's source\n{source}"}]

    def broken_share(weight: float) -> float:
        kinds = []
        for s in range(80):
            reply = sim.respond(
                request(msgs, role="diagnose", context={}, seed=s, broken_weight=weight)
            )
            try:
                kinds.append(catalogue[improve.parse_diagnosis(reply["content"]).change_id].kind)
            except improve.DiagnosisError:
                continue
        return kinds.count("broken") / len(kinds)

    assert broken_share(0.0) == 0
    assert 0 < broken_share(0.15) < 0.3
    assert broken_share(1.5) > 0.35


def test_self_modify_views_then_edits_then_finishes():
    msgs = start("Improve yourself.")
    req = dict(role="self_modify", context={"change": "editor_undo"})
    view = sim.respond(request(msgs, **req))
    assert {json.loads(c["function"]["arguments"])["command"] for c in view["tool_calls"]} == {
        "view"
    }
    msgs += tool_turn(view, ["..."] * len(view["tool_calls"]))
    edits = sim.respond(request(msgs, **req))
    assert len(edits["tool_calls"]) == len(load_catalogue()["editor_undo"].edits)
    msgs += tool_turn(edits, ["edited"] * len(edits["tool_calls"]))
    assert sim.respond(request(msgs, **req))["tool_calls"] is None
    unknown = sim.respond(request(start("x"), role="self_modify", context={"change": None}))
    assert unknown["tool_calls"] is None


@pytest.fixture
def seed_copy(tmp_path) -> Path:
    dest = tmp_path / "agent"
    shutil.copytree(SEED, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def own_tests(agent: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "unittest", "discover", "-s", "tests", "-t", "."],
        cwd=agent, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def compiles(agent: Path) -> bool:
    try:
        for path in agent.rglob("*.py"):
            py_compile.compile(str(path), doraise=True)
    except py_compile.PyCompileError:
        return False
    return True


@pytest.mark.parametrize("change_id", sorted(load_catalogue()))
def test_catalogue_change_applies_to_the_seed(change_id, seed_copy):
    change = load_catalogue()[change_id]
    assert apply_change(change, seed_copy) == []  # every anchor is in the seed exactly once
    if change.kind == "broken":
        if compiles(seed_copy):  # it compiles, so it must hang or crash when run
            with pytest.raises(subprocess.TimeoutExpired):
                subprocess.run(
                    [sys.executable, "agent.py", "solve", "--workspace", ".", "--problem",
                     "agent.py", "--log", "/dev/null"],
                    cwd=seed_copy, capture_output=True, timeout=3,
                )  # fmt: skip
        return
    assert compiles(seed_copy)
    result = own_tests(seed_copy)
    assert result.returncode == 0, result.stderr[-2000:]
