"""Whole `dgm run`s against a loopback OpenAI-compatible provider having a bad day (real
Docker, real git, litellm over HTTP, 1 worker, the same seed): an outage in the middle pauses
the run and it ends exactly where a run without one ends; an outage that lasts stops the run,
resumable, and the resume ends there too; a wrong key stops it at once. Provider faults are
never recorded against an agent, and neither a traceback nor the key appears anywhere.

The outage is short here (6 failed requests, pauses of 1 s doubling, about 10 s) instead of
the issue's 2 minutes: the pause, back-off and resume logic depends on the configured
lengths, not on wall time, so the same path runs; `[provider]` in docs/run.toml sets the real
lengths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from archive import Archive
from tests.dgm.fm.fm_fake_openai import FakeOpenAI, completion, error

pytestmark = [pytest.mark.docker, pytest.mark.slow]

MODEL = "openai/gpt-4o-mini"
KEY = "sk-loopback-provider-faults-key-0123456789"
EDIT = "echo '# edited through the HTTP model' >> agent.py; ls"
DIAGNOSIS = {
    "weakness": "It never says what it did.",
    "evidence": "loopback",
    "proposed_change": {"title": "Note the edit", "description": "Append a comment."},
}
CONFIG = """
benchmark = "humaneval"
subset = "small"
policy = "hgm"
workers = 1
seed = 5
final_eval = false
cache_mode = "off"
[budget]
evals = 4
expansions = 2
[provider]
call_timeout = 20
retries = 1
retry_backoff = 0.2
pause_first = 1
pause_max = 4
give_up_after = {give_up}
"""


class Provider:
    """A scripted model (tool call, then a final answer; a diagnosis that first lacks its
    problem statement, then, asked to repair it, is whole) with switchable faults."""

    def __init__(self):
        self.lock = threading.Lock()
        self.answered = 0
        self.fail_after: int | None = None  # answered calls before the outage starts
        self.outage_requests: int | None = None  # requests it lasts; None: until `heal()`
        self.failed = 0
        self.failing_status = (500, "upstream overloaded")
        self.server = FakeOpenAI(default=self)

    def heal(self) -> None:
        with self.lock:
            self.fail_after = None

    def __call__(self, body: dict):
        with self.lock:
            started = self.fail_after is not None and self.answered >= self.fail_after
            lasts = self.outage_requests is None or self.failed < self.outage_requests
            if started and lasts:
                self.failed += 1
                status, text = self.failing_status
                return error(status, f"{text} (key {KEY})")
            self.answered += 1
        return answer(body)


def answer(body: dict):
    if not body.get("tools"):
        asked_again = any(m.get("role") == "assistant" for m in body["messages"])
        diagnosis = dict(DIAGNOSIS)
        if asked_again:
            diagnosis["problem_statement"] = "Append a comment line to agent.py."
        text = "```json\n" + json.dumps(diagnosis) + "\n```\nIt keeps the `{}` placeholders."
        return 200, completion({"role": "assistant", "content": text}, 900, 60)
    if not any(m.get("role") == "tool" for m in body["messages"]):
        call = {
            "id": "call_1",
            "type": "function",
            "function": {"name": "bash", "arguments": json.dumps({"command": EDIT})},
        }
        return 200, completion({"role": "assistant", "content": None, "tool_calls": [call]})
    return 200, completion({"role": "assistant", "content": "Done."})


def dgm_run(cwd: Path, server: FakeOpenAI, name: str, *extra: str, give_up: float = 600):
    (cwd / f"{name}.toml").write_text(CONFIG.format(give_up=give_up))
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "OPENAI_API_KEY": KEY}
    args = extra or (
        "--config", f"{name}.toml", "--name", name, "--model", MODEL,
        "--api-base", server.api_base,
    )  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "dgm", "run", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def final_state(root: Path):
    archive = Archive.open(root)
    nodes = [(n.id, n.parent, n.status, n.reason) for n in archive.nodes()]
    evals = [(e.node, e.task, e.outcome, e.tokens) for e in archive.evaluations()]
    return nodes, evals


def assert_clean(root: Path, proc) -> None:
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output, output[-3000:]
    assert KEY not in output
    for path in root.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


@pytest.fixture(scope="module")
def runs(tmp_path_factory, docker_daemon):
    cwd = tmp_path_factory.mktemp("faults")
    out = {}
    healthy = Provider()
    try:
        out["baseline"] = dgm_run(cwd, healthy.server, "baseline")
    finally:
        healthy.server.close()
    # an outage in the middle, after 5 answered calls: the next 6 requests fail (counted,
    # not timed, so where it falls does not depend on the machine's speed)
    flaky = Provider()
    flaky.fail_after, flaky.outage_requests = 5, 6
    try:
        out["outage"] = dgm_run(cwd, flaky.server, "outage")
    finally:
        flaky.server.close()
    # an outage that lasts past give_up_after: the run stops; healed, it is resumed
    down = Provider()
    down.fail_after = 5
    try:
        out["stopped"] = dgm_run(cwd, down.server, "stopped", give_up=3)
        archive = Archive.open(cwd / "runs" / "stopped")
        out["stopped_state"] = (
            archive.get_state("finished"), len(archive.events("provider_stop")),
            len(archive.evaluations()),
        )  # fmt: skip
        down.heal()
        out["resumed"] = dgm_run(cwd, down.server, "stopped", "--resume", "stopped")
    finally:
        down.server.close()
    return cwd / "runs", out


def test_the_baseline_run_is_sound(runs):
    root, out = runs
    proc = out["baseline"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    nodes, evals = final_state(root / "baseline")
    assert len(evals) == 4 and len(nodes) >= 2
    # the diagnosis (fenced JSON, then prose with braces) lacked its problem statement, was
    # repaired with one more call, and the child is valid
    assert all(status == "valid" for _, _, status, _ in nodes), nodes
    archive = Archive.open(root / "baseline")
    diagnoses = [r for r in archive.fm_calls() if r.role == "diagnose"]
    assert len(diagnoses) == 2 * (len(nodes) - 1) and all(r.error is None for r in diagnoses)
    assert_clean(root / "baseline", proc)


def test_an_outage_in_the_middle_pauses_and_ends_where_a_healthy_run_ends(runs):
    root, out = runs
    proc = out["outage"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert final_state(root / "outage") == final_state(root / "baseline")
    archive = Archive.open(root / "outage")
    pauses = archive.events("provider_pause")
    assert pauses and "provider failing since" in pauses[0].data["status"]
    assert archive.events("provider_back")
    held = archive.events("job_held")
    assert held and all("provider failed" in e.data["reason"] for e in held)
    # one ledger row per failed provider attempt, redacted, costing nothing
    failed = [r for r in archive.fm_calls() if r.error and "attempt" in r.error]
    assert failed and all(r.cost == 0 and "[redacted]" in r.error for r in failed)
    # nothing the outage did counts against an agent
    assert "empty" not in {e.outcome for e in archive.evaluations()}
    assert_clean(root / "outage", proc)


def test_a_lasting_outage_stops_the_run_resumably(runs):
    root, out = runs
    stopped, resumed = out["stopped"], out["resumed"]
    assert stopped.returncode == 1, stopped.stdout[-2000:] + stopped.stderr[-2000:]
    lines = [ln for ln in stopped.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "the model provider has failed since" in lines[0]
    assert "dgm run --resume" in lines[0]
    finished, stops, recorded = out["stopped_state"]
    assert finished is None and stops == 1  # stopped, not finished: resumable
    assert recorded < 4
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert final_state(root / "stopped") == final_state(root / "baseline")
    assert_clean(root / "stopped", stopped)
    assert_clean(root / "stopped", resumed)


def test_a_wrong_key_stops_the_run_at_once_and_records_nothing(tmp_path, docker_daemon):
    provider = Provider()
    provider.fail_after = 0
    provider.failing_status = (401, "Incorrect API key provided")
    try:
        start = time.monotonic()
        proc = dgm_run(tmp_path, provider.server, "badkey")
        seconds = time.monotonic() - start
    finally:
        provider.server.close()
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr[-2000:]
    assert f"refused model '{MODEL}'" in lines[0] and "Incorrect API key" in lines[0]
    assert len(provider.server.requests) == 1, "an auth error is never retried"
    archive = Archive.open(tmp_path / "runs" / "badkey")
    assert archive.evaluations() == [] and len(archive.nodes()) == 1
    assert seconds < 120
    assert_clean(tmp_path / "runs" / "badkey", proc)


def test_dgm_eval_holds_tasks_the_provider_failed(tmp_path, docker_daemon):
    provider = Provider()
    provider.fail_after = 0  # every call fails: 500
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "OPENAI_API_KEY": KEY}
    base = [
        sys.executable, "-m", "dgm", "eval", "--model", "openai/a-model-without-a-price",
        "--api-base", provider.server.api_base, "--limit", "1", "--workers", "1",
        "--out", str(tmp_path / "eval"),
    ]  # fmt: skip
    try:
        refused = subprocess.run(base, cwd=tmp_path, env=env, capture_output=True, text=True,
                                 timeout=300)  # fmt: skip
        proc = subprocess.run([*base, "--cost-unknown", "ignore"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
    finally:
        provider.server.close()
    # the error names the flag that fixes it, and the flag exists
    assert refused.returncode == 2 and "--cost-unknown ignore" in refused.stderr
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert summary["results"] == {} and list(summary["held"]) == ["HumanEval/0"]
    assert "not recorded" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert len(provider.server.requests) == 5  # the gateway's 1 + 4 retries, once
    for path in (tmp_path / "eval").rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
