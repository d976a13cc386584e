"""The seed agent (a real subprocess) against the real gateway and a loopback provider that
answers the way real models do: code pasted as text, `content: null`, cut-off answers, and
errors the gateway already retried."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fm_fake_openai import completion, error

from dgm.fm import SessionTags

SEED = Path(__file__).resolve().parents[3] / "dgm" / "seed_agent"
PROBLEM = "Write `solution.py` with `def add(a, b)` returning the sum.\n"
WRITE = {
    "id": "call_1",
    "type": "function",
    "function": {
        "name": "editor",
        "arguments": json.dumps(
            {"command": "create", "path": "solution.py",
             "file_text": "def add(a, b):\n    return a + b\n"}
        ),
    },
}  # fmt: skip
DONE = (200, completion({"role": "assistant", "content": "Done."}))
PASTED = "Here is the solution:\n```python\ndef add(a, b):\n    return a + b\n```"


def run_agent(session, tmp_path: Path) -> tuple[subprocess.CompletedProcess, str, Path]:
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "problem.md").write_text(PROBLEM)
    env = {**os.environ, "DGM_FM_SOCKET": str(session.socket_path), "DGM_MODEL": "m"}
    proc = subprocess.run(
        [sys.executable, str(SEED / "agent.py"), "solve", "--workspace", str(work),
         "--problem", str(tmp_path / "problem.md"), "--log", str(tmp_path / "log.md")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return proc, (tmp_path / "log.md").read_text(), work


def tool_reply(_body=None):
    return 200, completion({"role": "assistant", "content": None, "tool_calls": [WRITE]})


@pytest.mark.parametrize(
    "first",
    [
        {"role": "assistant", "content": PASTED},  # code as text, no tool call
        {"role": "assistant", "content": None},  # content null, no tool call
    ],
)
def test_an_answer_without_tools_gets_one_nudge(make_gateway, fake_openai, tmp_path, first):
    fake_openai.script += [(200, completion(first)), tool_reply(), DONE]
    gw = make_gateway()
    with gw.session(SessionTags(run="r", node=0, task="t", role="solve")) as s:
        proc, log, work = run_agent(s, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Nudge:" in log and "stopped: done" in log
    assert (work / "solution.py").read_text().startswith("def add")
    nudged = fake_openai.requests[1]["messages"][-1]
    assert nudged["role"] == "user" and "tool" in nudged["content"]
    assert len(fake_openai.requests) == 3


def test_the_nudge_comes_once(make_gateway, fake_openai, tmp_path):
    fake_openai.default = (200, completion({"role": "assistant", "content": PASTED}))
    gw = make_gateway()
    with gw.session(SessionTags(run="r", node=0, task="t", role="solve")) as s:
        proc, log, _ = run_agent(s, tmp_path)
    assert proc.returncode == 0 and log.count("Nudge:") == 1 and "stopped: done" in log
    assert len(fake_openai.requests) == 2


def test_a_cut_off_answer_is_reported_in_the_transcript(make_gateway, fake_openai, tmp_path):
    cut = completion({"role": "assistant", "content": "def add(a, b):\n    ret"})
    cut["choices"][0]["finish_reason"] = "length"
    fake_openai.script += [(200, cut), tool_reply(), DONE]
    gw = make_gateway()
    with gw.session(SessionTags(run="r", node=0, task="t", role="solve")) as s:
        proc, log, _ = run_agent(s, tmp_path)
    assert proc.returncode == 0
    assert "cut off (finish_reason: length)" in log and "Nudge:" in log


def test_the_agent_does_not_retry_what_the_gateway_retried(make_gateway, fake_openai, tmp_path,
                                                           ledger):  # fmt: skip
    fake_openai.default = error(500, "down")
    gw = make_gateway(retries=2)
    with gw.session(SessionTags(run="r", node=0, task="t", role="solve")) as s:
        proc, log, _ = run_agent(s, tmp_path)
    assert proc.returncode == 0 and "stopped: fm_error" in log
    assert len(fake_openai.requests) == 3  # the gateway's 1 + 2 retries, nothing on top
    assert len(ledger.rows) == 3 and all(r.error.startswith("attempt") for r in ledger.rows)
