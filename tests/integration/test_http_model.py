"""A whole `dgm run` against a real HTTP model: a loopback OpenAI-compatible server, reached
through litellm with a model name litellm has prices for. It shows the path a real model
takes (gateway socket in the sandbox, litellm on the host, HTTP, the priced ledger), that the
dollar budget ends the run cleanly, and that the API key never leaves the host process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import litellm
import pytest

from archive import Archive
from tests.dgm.fm.fm_fake_openai import FakeOpenAI, completion

pytestmark = [pytest.mark.docker, pytest.mark.slow]

MODEL = "openai/gpt-4o-mini"  # priced in litellm's local table; the server is loopback
KEY = "sk-loopback-key-that-must-stay-on-the-host"
PROMPT_TOKENS, COMPLETION_TOKENS = 1000, 50
EDIT = "echo '# edited through the HTTP model' >> agent.py; ls"
DIAGNOSIS = {
    "weakness": "It never says what it did.",
    "evidence": "loopback",
    "proposed_change": {"title": "Note the edit", "description": "Append a comment."},
    "problem_statement": "Append a comment line to agent.py.",
}


def answer(body: dict) -> tuple[int, dict]:
    """A scripted model: with tools, one bash call (an edit that keeps the agent valid), then
    a final message; without tools (a diagnosis request), a JSON diagnosis."""
    if not body.get("tools"):
        message = {"role": "assistant", "content": json.dumps(DIAGNOSIS)}
    elif not any(m.get("role") == "tool" for m in body["messages"]):
        call = {
            "id": "call_1",
            "type": "function",
            "function": {"name": "bash", "arguments": json.dumps({"command": EDIT})},
        }
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
    else:
        message = {"role": "assistant", "content": "Done."}
    return 200, completion(message, PROMPT_TOKENS, COMPLETION_TOKENS)


@pytest.fixture(scope="module")
def http_run(tmp_path_factory, docker_daemon):
    cwd = tmp_path_factory.mktemp("http")
    server = FakeOpenAI(default=answer)
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "OPENAI_API_KEY": KEY}
    try:
        proc = subprocess.run(
            [
                sys.executable, "-m", "dgm", "run", "--name", "http", "--model", MODEL,
                "--api-base", server.api_base, "--budget-dollars", "0.008",
                "--budget-evals", "200", "--workers", "1", "--seed", "1",
            ],
            cwd=cwd, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
    finally:
        server.close()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return cwd / "runs" / "http", server, proc


def test_the_dollar_budget_ends_the_run(http_run):
    root, _, proc = http_run
    archive = Archive.open(root)
    state = archive.get_state("finished")
    assert state["reason"] == "FM budget reached", state
    assert archive.check() == []
    calls, _, dollars = archive.fm_totals()
    assert 0.008 <= dollars < 0.008 + 0.001, dollars  # at most a few calls in flight past it
    assert "final evaluation skipped: the FM budget is spent" in proc.stdout


def test_work_the_budget_cut_short_is_not_recorded_as_a_result(http_run):
    # An agent whose FM calls are refused mid-task would grade as empty or unresolved: that
    # measures the budget, not the agent, so such work is held (a resume would redo it).
    root, _, _ = http_run
    archive = Archive.open(root)
    full = 2 * (PROMPT_TOKENS + COMPLETION_TOKENS)  # this model's evaluation: two answers
    assert archive.evaluations() and all(e.tokens == full for e in archive.evaluations())
    assert all("budget" in e.data["reason"] for e in archive.events("job_held"))


def test_the_ledger_prices_every_call_with_litellm(http_run):
    root, server, _ = http_run
    archive = Archive.open(root)
    prompt, completion_cost = litellm.cost_per_token(
        model="gpt-4o-mini", prompt_tokens=PROMPT_TOKENS, completion_tokens=COMPLETION_TOKENS
    )
    rows = archive.fm_calls()
    answered = [r for r in rows if r.error is None]
    refused = [r for r in rows if r.error is not None]
    assert len(answered) >= 20 and len(answered) == len(server.requests)  # one row per call
    for row in answered:
        assert (row.prompt_tokens, row.completion_tokens) == (PROMPT_TOKENS, COMPLETION_TOKENS)
        assert row.cost == pytest.approx(prompt + completion_cost)
        assert row.model == MODEL and not row.cached
    # Past the budget, calls are refused before they reach the model, and cost nothing.
    assert refused and all("budget" in r.error and r.cost == 0 for r in refused)
    assert {r["model"] for r in server.requests} == {"gpt-4o-mini"}


def test_children_came_from_the_http_model(http_run):
    root, _, _ = http_run
    archive = Archive.open(root)
    valid = [n for n in archive.nodes() if n.parent is not None and n.status == "valid"]
    assert valid, [(n.id, n.status, n.reason) for n in archive.nodes()]
    diff = archive.diff(valid[0].parent, valid[0].id)
    assert "+# edited through the HTTP model" in diff.text


def test_the_key_stays_on_the_host(http_run):
    root, server, _ = http_run
    assert {h.get("authorization") for h in server.headers} == {f"Bearer {KEY}"}
    for path in Path(root).rglob("*"):  # transcripts, logs, agent sources, the archive
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
