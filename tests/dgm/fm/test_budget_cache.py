"""Budgets refuse calls once spent; record/replay reproduces a session byte for byte."""

from __future__ import annotations

import threading

import pytest
from fm_fake_openai import completion

from dgm.fm import Budget, BudgetExceeded, CacheMiss, FMError, SessionTags, canonical_key
from dgm.fm.client import FMClient, FMClientError

USER = [{"role": "user", "content": "solve it"}]


def tags(node=1, attempt=0) -> SessionTags:
    return SessionTags(run="r", node=node, task="t", role="solve", attempt=attempt)


def test_call_budget_exhausted_mid_session_refuses_further_calls(make_gateway, ledger):
    gw = make_gateway(budget=Budget(calls=2))
    with gw.session(tags()) as s:
        client = FMClient(str(s.socket_path))
        client.chat(USER)
        client.chat(USER)
        assert gw.exhausted
        with pytest.raises(FMClientError) as info:
            client.chat(USER)
        with pytest.raises(BudgetExceeded):
            gw.complete(s, USER)
        assert s.calls == 2
    assert info.value.status == 402 and info.value.kind == "insufficient_quota"
    assert "call budget exhausted" in str(info.value)
    assert [r.error is None for r in ledger.rows] == [True, True, False, False]


def test_only_a_refusal_by_the_run_budget_marks_the_session(make_gateway):
    # Work the run's budget cut short is held by the loop (not a verdict on the agent);
    # a session that used up its own allowance is the agent's doing and is not marked.
    gw = make_gateway(budget=Budget(calls=3, session_calls=1))
    with gw.session(tags(node=1)) as own:
        gw.complete(own, USER)
        with pytest.raises(BudgetExceeded) as info:
            gw.complete(own, USER)
        assert info.value.scope == "session" and not own.refused
        own.raise_if_refused()  # nothing to raise
    with gw.session(tags(node=2)) as a, gw.session(tags(node=3)) as b:
        gw.complete(a, USER)
        gw.complete(b, USER)  # the run's third and last call
        with pytest.raises(BudgetExceeded) as info:
            gw.complete(b, USER)  # over both budgets: the run's is checked first
        assert info.value.scope == "run" and b.refused and not a.refused
        with pytest.raises(BudgetExceeded, match="not recorded"):
            b.raise_if_refused()


def test_dollar_budget_and_session_budgets(make_gateway, fake_openai):
    fake_openai.default = (200, completion({"role": "assistant", "content": "x"}, 10**6, 0))
    gw = make_gateway(budget=Budget(dollars=0.2, session_calls=3))
    with gw.session(tags(node=1)) as s:
        gw.complete(s, USER)  # $0.15 at gpt-4o-mini prices
        assert not gw.exhausted and gw.spent() == pytest.approx(0.15)
        gw.complete(s, USER)  # allowed: the spend was below the limit when it started
        assert gw.exhausted
        with pytest.raises(BudgetExceeded, match=r"run FM budget exhausted: \$0\.3"):
            gw.complete(s, USER)
    gw2 = make_gateway(budget=Budget(session_calls=1))
    with gw2.session(tags(node=1)) as a, gw2.session(tags(node=2)) as b:
        gw2.complete(a, USER)
        gw2.complete(b, USER)  # another session has its own allowance
        with pytest.raises(BudgetExceeded, match="session FM call budget"):
            gw2.complete(a, USER)


def test_spend_already_in_the_ledger_counts_after_resume(make_gateway, ledger):
    ledger.record_fm_call("old", 0, "t", "solve", "m", 1, 1, 0.5, False, 1.0)
    gw = make_gateway(budget=Budget(dollars=0.5))
    assert gw.exhausted and gw.spent() == 0.5


def _session_bodies(gw, attempt=0) -> list[bytes]:
    """Three calls of one session through the socket, raw bodies as the agent sees them."""
    bodies = []
    with gw.session(tags(attempt=attempt)) as s:
        client = FMClient(str(s.socket_path))
        for i in range(3):
            client.chat(USER + [{"role": "user", "content": f"step {i}"}], temperature=0.0)
            bodies.append(client.last_body)
    return bodies


def test_replay_reproduces_a_recorded_session_byte_for_byte(
    make_gateway, fake_openai, ledger, tmp_path
):
    fake_openai.script = [
        (200, completion({"role": "assistant", "content": f"answer {i}"})) for i in range(3)
    ]
    recorded = _session_bodies(make_gateway(cache_dir=tmp_path, cache_mode="record"))
    assert len(fake_openai.requests) == 3
    fake_openai.close()  # replay must not need the provider at all
    replayed = _session_bodies(make_gateway(cache_dir=tmp_path, cache_mode="replay"))
    assert replayed == recorded
    assert [b"answer %d" % i in body for i, body in enumerate(recorded)] == [True] * 3
    assert [r.cached for r in ledger.rows] == [False] * 3 + [True] * 3
    assert all(r.cost == 0 for r in ledger.rows[3:])


def test_replay_miss_is_a_clear_error(make_gateway, fake_openai, ledger, tmp_path):
    gw = make_gateway(cache_dir=tmp_path, cache_mode="replay")
    with gw.session(tags(node=4)) as s:
        with pytest.raises(FMClientError) as info:
            FMClient(str(s.socket_path)).chat(USER)
        with pytest.raises(CacheMiss, match="replay cache miss: node 4, task t"):
            gw.complete(s, USER)
    assert info.value.status == 409 and "replay cache miss" in str(info.value)
    assert fake_openai.requests == []
    assert all("replay cache miss" in r.error for r in ledger.rows)


def test_record_replay_mode_records_misses_and_replays_hits(make_gateway, fake_openai, tmp_path):
    gw = make_gateway(cache_dir=tmp_path, cache_mode="record_replay")
    first = _session_bodies(gw)
    again = _session_bodies(gw)
    other_attempt = _session_bodies(gw, attempt=1)
    assert first == again and len(fake_openai.requests) == 6
    assert len(other_attempt) == 3


def test_cache_key_is_canonical_and_covers_the_call_index():
    ident = {"seed": 0, "node": 1, "task": "t", "role": "solve", "attempt": 0}
    a = canonical_key("m", [{"role": "user", "content": "x"}], None, {"t": 0, "s": 1}, ident, 0)
    b = canonical_key("m", [{"content": "x", "role": "user"}], None, {"s": 1, "t": 0}, ident, 0)
    assert a == b
    assert a != canonical_key("m", [{"role": "user", "content": "x"}], None, {}, ident, 1)


def test_bad_cache_configuration_is_refused(make_gateway):
    with pytest.raises(FMError, match="unknown cache mode"):
        make_gateway(cache_mode="sometimes")
    with pytest.raises(FMError, match="needs a cache directory"):
        make_gateway(cache_mode="replay")


def test_concurrent_sessions_never_overshoot_a_call_budget(make_gateway, ledger):
    gw = make_gateway(budget=Budget(calls=5))
    results: list[str] = []

    def worker(node: int) -> None:
        with gw.session(tags(node=node)) as s:
            client = FMClient(str(s.socket_path))
            for _ in range(3):
                try:
                    client.chat(USER)
                    results.append("ok")
                except FMClientError as exc:
                    results.append(exc.kind)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["insufficient_quota"] * 7 + ["ok"] * 5
    assert sum(r.error is None for r in ledger.rows) == 5 and len(ledger.rows) == 12
