"""The sim model through the gateway, the real archive as the ledger, model validation."""

from __future__ import annotations

import json

import pytest

from dgm.fm import FMError, Gateway, MemoryLedger, SessionTags, validate_model
from dgm.fm.accounts import SIM_PRICE_PER_TOKEN
from dgm.fm.client import FMClient

DIAGNOSE = [{"role": "user", "content": "Diagnose the agent and propose one change."}]


def tags(role="diagnose", node=0, attempt=0) -> SessionTags:
    return SessionTags(run="r", node=node, task="expansion-1", role=role, attempt=attempt)


@pytest.fixture
def sim_gateway():
    gateways = []

    def make(**kw):
        gw = Gateway("sim", **kw)
        gateways.append(gw)
        return gw

    yield make
    for gw in gateways:
        gw.close()


def test_sim_answers_through_the_socket_and_is_deterministic(sim_gateway):
    ledger = MemoryLedger()
    gw = sim_gateway(ledger=ledger, seed=7)
    answers = []
    for _ in range(2):
        with gw.session(tags(), sim_context={}) as s:
            reply = FMClient(str(s.socket_path)).chat(DIAGNOSE)
            answers.append(reply["choices"][0]["message"])
    assert answers[0] == answers[1] and answers[0]["content"]
    assert reply["model"] == "sim"
    assert all(r.model == "sim" and r.error is None for r in ledger.rows)
    price_in, price_out = SIM_PRICE_PER_TOKEN
    for r in ledger.rows:  # sim's fixed fake price, so cost views have something to show
        assert r.cost == pytest.approx(r.prompt_tokens * price_in + r.completion_tokens * price_out)
    assert all(r.prompt_tokens > 0 and r.completion_tokens > 0 for r in ledger.rows)


def test_sim_sees_the_session_context_and_call_index(sim_gateway, monkeypatch):
    seen = []
    import dgm.fm.sim.model as sim

    real = sim.respond

    def spy(req):
        seen.append(req)
        return real(req)

    monkeypatch.setattr(sim, "respond", spy)
    gw = sim_gateway(seed=3, sim_fault_rate=0.25)
    with gw.session(tags(node=5, attempt=2), sim_context={"change": "x"}) as s:
        gw.complete(s, DIAGNOSE)
        gw.complete(s, DIAGNOSE)
    assert [r.call_index for r in seen] == [0, 1]
    first = seen[0]
    assert (first.seed, first.node, first.task, first.attempt, first.role) == (
        3, 5, "expansion-1", 2, "diagnose",
    )  # fmt: skip
    assert first.context == {"change": "x"} and first.fault_rate == 0.25
    assert first.messages == DIAGNOSE and first.tools is None


def test_the_real_archive_is_the_ledger(sim_gateway, tmp_path):
    archive = pytest.importorskip("archive")
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "agent.py").write_text("print('seed')\n")
    store = archive.Archive.create(tmp_path / "run", seed)
    gw = sim_gateway(ledger=store)
    with gw.session(tags(node=0), sim_context={}) as s:
        gw.complete(s, DIAGNOSE)
        with pytest.raises(FMError, match="non-empty"):
            gw.complete(s, [])  # a refused request is a ledger row too
    calls, tokens, cost = store.fm_totals()
    assert calls == 2 and tokens == s.tokens > 0 and cost == pytest.approx(s.cost) and cost > 0


def test_validate_model():
    validate_model("sim")
    validate_model("openai/gpt-4o-mini")
    with pytest.raises(FMError, match="unknown model 'nonsense'"):
        validate_model("nonsense")
    with pytest.raises(FMError, match="no known price"):
        validate_model("openai/my-finetune", "http://127.0.0.1:9/v1")
    validate_model("openai/my-finetune", "http://127.0.0.1:9/v1", cost_unknown="ignore")
    with pytest.raises(FMError, match="cost_unknown"):
        validate_model("sim", cost_unknown="maybe")
    with pytest.raises(FMError, match="unknown FM session role"):
        tags(role="chat")


def test_unpriced_model_with_ignore_costs_nothing(make_gateway, fake_openai, ledger):
    gw = make_gateway(model="openai/test-model", cost_unknown="ignore")
    with gw.session(tags(role="solve")) as s:
        gw.complete(s, DIAGNOSE)
    assert ledger.rows[0].cost == 0.0 and ledger.rows[0].prompt_tokens == 11
    assert json.loads(json.dumps(fake_openai.requests[0]))["model"] == "test-model"
