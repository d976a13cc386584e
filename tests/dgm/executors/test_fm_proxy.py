"""FM access from another node: a real sandbox on the worker node calls the model through
its own node's socket; the call reaches a loopback model server from the head's gateway,
with the key that only the head process holds, and the head's ledger charges the head's
session tags."""

from __future__ import annotations

import os

import pytest

from dgm.executors import Job
from dgm.executors.ray_executor import RayExecutor
from dgm.fm import Gateway
from dgm.fm.ledger import MemoryLedger
from tests.dgm.fm.fm_fake_openai import FakeOpenAI, completion

pytestmark = pytest.mark.docker

KEY = "sk-head-only-key-0123456789"
MODEL = "openai/gpt-4o-mini"  # priced in litellm's local table; the server is loopback


def test_a_sandbox_on_the_worker_node_reaches_the_model_only_through_the_head(
    cluster, docker_daemon, monkeypatch
):
    server = FakeOpenAI(default=(200, completion({"role": "assistant", "content": "pong"})))
    # set after the cluster started: the head process has it, no Ray process does
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    ledger = MemoryLedger()
    gateway = Gateway(MODEL, api_base=server.api_base, ledger=ledger)
    try:
        # `dgm_worker` only on the worker node: the job cannot land on the head's node
        with RayExecutor(2, gateway=gateway, resource="dgm_worker") as ex:
            job = Job("probe", "probe-1", "dgm.executors.probes:fm_probe",
                      settings={"prompt": "ping"}, tags={"run": "t", "node": 5})  # fmt: skip
            result = ex.submit(job).result(timeout=300)
            assert ex.relay.open_sessions() == 0
    finally:
        gateway.close()
        server.close()
    probe = result.value
    assert cluster.worker.node_id[:8] in result.node
    assert probe["exit_code"] == 0, probe["stderr"]
    assert probe["reply"]["status"] == 200
    assert "pong" in probe["reply"]["body"]
    assert probe["host_reply"]["content"] == "pong"
    assert probe["calls"] == 2
    # the key went out from the head, and nowhere else
    assert [h["authorization"] for h in server.headers] == [f"Bearer {KEY}"] * 2
    assert "OPENAI_API_KEY" not in probe["worker_env"]
    assert "OPENAI_API_KEY" not in probe["reply"]["env"]
    assert KEY not in str(probe)
    assert os.environ["OPENAI_API_KEY"] == KEY
    # charged on the head, to the tags the head gave the session
    rows = ledger.rows
    assert [(r.node, r.task, r.role, r.error) for r in rows] == [(5, "probe-1", "solve", None)] * 2
    assert all(r.prompt_tokens == 11 and r.completion_tokens == 7 for r in rows)


def test_the_heads_session_caps_hold_for_calls_from_another_node(cluster, monkeypatch):
    server = FakeOpenAI()
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    ledger = MemoryLedger()
    gateway = Gateway(MODEL, api_base=server.api_base, ledger=ledger)
    try:
        with RayExecutor(1, gateway=gateway, resource="dgm_worker", prepare=None) as ex:
            job = Job("calls", "capped", "dgm.executors.probes:fm_calls",
                      settings={"calls": 3, "max_calls": 2})  # fmt: skip
            result = ex.submit(job).result(timeout=300)
    finally:
        gateway.close()
        server.close()
    statuses = result.value["statuses"]
    assert [s for s, _ in statuses[:2]] == [200, 200]
    assert 400 <= statuses[2][0] < 500  # the third is over the head's cap for the session
    assert result.value["calls"] == 2 and len(server.requests) == 2
    assert sum(r.error is None for r in ledger.rows) == 2
