"""A provider on a bad day, through the real path (client -> session socket -> gateway ->
litellm -> loopback HTTP): whose fault each failure is, what the ledger holds, and that no
key or traceback leaks."""

from __future__ import annotations

import json
import socket
import time

import pytest
from fm_fake_openai import completion, error

from dgm.fm import Budget, BudgetExceeded, FMError, Gateway, ProviderDown, SessionTags
from dgm.fm.client import FMClient, FMClientError

KEY = "sk-test-only-on-the-host"  # conftest's OPENAI_API_KEY
USER = [{"role": "user", "content": "write the function"}]


def tags(task="HumanEval/0") -> SessionTags:
    return SessionTags(run="run-1", node=3, task=task, role="solve")


def no_usage(message: dict, finish: str = "stop") -> dict:
    doc = completion(message)
    del doc["usage"]
    doc["choices"][0]["finish_reason"] = finish
    return doc


def test_a_wrong_key_is_fatal_not_retried_and_redacted(make_gateway, fake_openai, ledger):
    fake_openai.default = error(401, f"Incorrect API key provided: {KEY}", "invalid_request_error",
                                "invalid_api_key")  # fmt: skip
    gw = make_gateway(retries=4)
    with gw.session(tags()) as s:
        with pytest.raises(FMClientError) as info:
            FMClient(str(s.socket_path)).chat(USER)
        with pytest.raises(ProviderDown) as held:
            s.raise_if_refused()
    assert held.value.fatal
    assert len(fake_openai.requests) == 1  # never retried
    assert "refused model 'openai/gpt-4o-mini'" in str(info.value)
    assert "Incorrect API key" in str(info.value) and KEY not in str(info.value)
    (row,) = ledger.rows
    assert KEY not in row.error and "[redacted]" in row.error


def test_retry_after_is_honoured(make_gateway, fake_openai, ledger):
    fake_openai.script.append((*error(429, "slow down", "rate_limit_error"), {"Retry-After": "1"}))
    gw = make_gateway(backoff=0.01)  # without the header the retry would come at once
    with gw.session(tags()) as s:
        assert gw.complete(s, USER)["content"] == "ok"
    first, second = fake_openai.times
    assert second - first >= 0.95
    assert [r.error is None for r in ledger.rows] == [False, True]


def test_a_reply_slower_than_the_call_timeout_is_the_providers_fault(make_gateway, fake_openai,
                                                                      ledger):  # fmt: skip
    fake_openai.delay = 2.0
    gw = make_gateway(timeout=0.5, retries=1)
    with gw.session(tags()) as s:
        with pytest.raises(ProviderDown, match="after 2 attempts"):
            gw.complete(s, USER)
        assert s.provider_fault is not None and not s.provider_fault.fatal
    assert len(ledger.rows) == 2 and all(r.error and r.cost == 0 for r in ledger.rows)


def test_a_reply_without_usage_is_counted_and_marked_estimated(make_gateway, fake_openai,
                                                               ledger):  # fmt: skip
    text = "def add(a, b):\n    return a + b\n" * 20
    fake_openai.default = (200, no_usage({"role": "assistant", "content": text}))
    gw = make_gateway()
    with gw.session(tags()) as s:
        reply = FMClient(str(s.socket_path)).chat(USER)
        assert s.tokens > 0 and s.cost > 0
    (row,) = ledger.rows
    assert row.estimated and row.prompt_tokens > 0 and row.completion_tokens > 100
    assert row.cost > 0 and reply["usage"]["estimated"] is True
    assert gw.spent() == pytest.approx(row.cost)


def test_a_dollar_budget_fires_on_replies_without_usage(make_gateway, fake_openai):
    fake_openai.default = (200, no_usage({"role": "assistant", "content": "x " * 500}))
    gw = make_gateway(budget=Budget(dollars=0.0001))
    with gw.session(tags()) as s, pytest.raises(BudgetExceeded):
        for _ in range(20):
            gw.complete(s, [{"role": "user", "content": "y " * 300}])
    assert gw.exhausted and len(fake_openai.requests) < 20


def test_content_null_and_length_pass_through(make_gateway, fake_openai, ledger):
    fake_openai.default = (200, no_usage({"role": "assistant", "content": None}, "length"))
    gw = make_gateway()
    with gw.session(tags()) as s:
        reply = FMClient(str(s.socket_path)).chat(USER)
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "length" and choice["message"]["content"] is None
    (row,) = ledger.rows
    assert row.error is None and row.completion_tokens == 0 and row.prompt_tokens > 0


def test_provider_error_text_is_redacted_everywhere(make_gateway, fake_openai, ledger,
                                                    monkeypatch):  # fmt: skip
    other = "tok-extra-secret-value-1234"
    monkeypatch.setenv("OTHER_SERVICE_TOKEN", other)
    fake_openai.default = error(500, f"upstream said key={KEY} token={other} failed")
    gw = make_gateway(retries=0)
    with gw.session(tags()) as s, pytest.raises(FMClientError) as info:
        FMClient(str(s.socket_path)).chat(USER)
    for text in (str(info.value), *(r.error for r in ledger.rows)):
        assert KEY not in text and other not in text and "[redacted]" in text


def test_a_dollar_budget_with_an_unpriced_model_is_refused(fake_openai):
    with pytest.raises(FMError, match="token or call budget"):
        Gateway("openai/no-such-priced-model", api_base=fake_openai.api_base,
                cost_unknown="ignore", budget=Budget(dollars=1.0))  # fmt: skip
    with pytest.raises(FMError, match="--cost-unknown ignore"):
        Gateway("openai/no-such-priced-model", api_base=fake_openai.api_base)


def test_a_token_budget_works_for_an_unpriced_model(make_gateway, fake_openai):
    gw = make_gateway(model="openai/no-such-priced-model", cost_unknown="ignore",
                      budget=Budget(tokens=40))  # fmt: skip
    with gw.session(tags()) as s:
        gw.complete(s, USER)  # 18 tokens
        gw.complete(s, USER)  # 36
        gw.complete(s, USER)  # 54: the limit is passed by the call in flight, then no more
        with pytest.raises(BudgetExceeded, match="token budget"):
            gw.complete(s, USER)
    assert gw.exhausted and len(fake_openai.requests) == 3


def test_a_session_cap_is_a_clear_402_and_the_agents_own(make_gateway, fake_openai):
    gw = make_gateway(budget=Budget(session_calls=2))
    with gw.session(tags()) as s:
        client = FMClient(str(s.socket_path))
        client.chat(USER)
        client.chat(USER)
        with pytest.raises(FMClientError) as info:
            client.chat(USER)
        s.raise_if_refused()  # a session cap does not hold the job: the agent spent it
    assert info.value.status == 402 and "session FM call budget" in str(info.value)
    assert not gw.exhausted


def test_parallel_huge_prompts_cannot_overshoot_a_session_token_cap(make_gateway, fake_openai):
    import threading

    fake_openai.delay = 0.3
    gw = make_gateway(budget=Budget(session_tokens=1000))
    big = [{"role": "user", "content": "word " * 2000}]  # about 2500 tokens each
    outcomes = []
    with gw.session(tags()) as s:

        def call():
            try:
                gw.complete(s, big)
                outcomes.append("answered")
            except BudgetExceeded:
                outcomes.append("refused")

        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(outcomes) == ["answered"] + ["refused"] * 7
    assert len(fake_openai.requests) == 1


def test_a_call_in_flight_when_the_agent_hangs_up_still_lands(make_gateway, fake_openai, ledger,
                                                              capfd):  # fmt: skip
    fake_openai.delay = 1.0
    gw = make_gateway(log_path=None)
    with gw.session(tags()) as s:
        body = json.dumps({"messages": USER}).encode()
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(str(s.socket_path))
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not fake_openai.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        sock.close()  # the agent was killed while its call was at the provider
    # closing the session waited for the answer: it is in the ledger and the counters
    assert s.calls == 1 and s.tokens == 18
    (row,) = ledger.rows
    assert row.error is None and row.cost > 0
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err + captured.out


def test_the_socket_caps_connections_and_body_size(make_gateway, fake_openai):
    gw = make_gateway(session_connections=4, max_request_bytes=1000)
    with gw.session(tags()) as s:
        held = []
        for _ in range(4):
            conn = socket.socket(socket.AF_UNIX)
            conn.connect(str(s.socket_path))
            held.append(conn)
        extra = socket.socket(socket.AF_UNIX)
        extra.connect(str(s.socket_path))
        extra.settimeout(10)
        answer = extra.recv(4096)
        assert answer.startswith(b"HTTP/1.1 429") and b"too many connections" in answer
        for conn in held:
            conn.close()
    with gw.session(tags()) as s:  # a fresh session: the closed ones may still be counted
        big = socket.socket(socket.AF_UNIX)
        big.connect(str(s.socket_path))
        big.settimeout(10)
        big.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 5000000\r\n\r\n")
        answer = b""
        while chunk := big.recv(4096):  # the gateway closes it without reading the body
            answer += chunk
        assert b" 413 " in answer.split(b"\r\n")[0] and b"over the 1000-byte limit" in answer
    assert fake_openai.requests == []


def test_the_run_config_reaches_the_gateway_and_the_smoke_run(fake_openai):
    from dgm.run.config import RunConfig

    config = RunConfig.parse(
        {
            "model": "openai/gpt-4o-mini",
            "api_base": fake_openai.api_base,
            "validate_timeout": 30,
            "budget": {"calls": 5, "tokens": 1000, "session_calls": 3},
            "provider": {"call_timeout": 35, "session_connections": 2, "max_request_mb": 1},
        }
    )
    # a 35 s call fits in the smoke run: a slow model does not invalidate a correct child
    assert config.smoke_timeout() == 65
    # sim answers at once: a hanging child costs only the agent's own time
    assert RunConfig.parse({"validate_timeout": 30}).smoke_timeout() == 30
    gw = Gateway(**config.gateway_options())
    try:
        assert (gw.budget.budget.calls, gw.budget.budget.tokens) == (5, 1000)
        assert gw.budget.budget.session_calls == 3 and gw.timeout == 35
        assert (gw.session_connections, gw.max_request_bytes) == (2, 1024 * 1024)
        with gw.session(tags(), max_calls=1) as s:  # a smoke run's tighter cap
            gw.complete(s, USER)
            with pytest.raises(BudgetExceeded, match="1 call allowed"):
                gw.complete(s, USER)
    finally:
        gw.close()


def test_status_and_show_say_how_much_cost_is_estimated(make_gateway, fake_openai, tmp_path):
    from typer.testing import CliRunner

    from archive import Archive
    from dgm.cli import app
    from tests.dgm.views.conftest import make_run

    run = make_run(tmp_path / "estimated")
    archive = Archive.open(run.root)
    fake_openai.default = (200, no_usage({"role": "assistant", "content": "x " * 400}))
    gw = make_gateway(ledger=archive)
    with gw.session(SessionTags(run="r", node=0, task="t1", role="solve")) as s:
        gw.complete(s, USER)
        gw.complete(s, USER)
    (calls, cost) = archive.fm_estimated()
    ours = [c for c in archive.fm_calls() if c.session == s.id]
    assert calls == 2 and cost > 0 and [c.estimated for c in ours] == [True, True]
    archive.put_state("provider", {"status": "provider failing since 12:03, 14 attempts"})

    def invoke(*args: str) -> str:
        result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        return result.output

    status = invoke("status", str(run.root))
    assert f"${cost:.4f} of it estimated, 2 calls" in status
    assert "provider failing since 12:03, 14 attempts" in status
    assert "estimated: 2 replies without usage" in invoke("show", str(run.root), "0")


def test_retry_after_forms_and_the_wait_bounds():
    from email.utils import formatdate

    from dgm.fm import faults

    class Exc(Exception):
        def __init__(self, headers):
            self.litellm_response_headers = headers

    assert faults.retry_after(Exc({"retry-after": "1.5"})) == 1.5
    assert faults.retry_after(Exc({"retry-after": formatdate(1000.0 + 30, usegmt=True)}),
                              now=1000.0) == pytest.approx(30)  # fmt: skip
    assert faults.retry_after(Exc({"retry-after": "soon"})) is None
    assert faults.retry_after(Exception("no headers")) is None
    # exponential, at least what the provider asked, never past the cap
    assert faults.retry_wait(3, base=1.0, cap=60, asked=None, jitter=1.0) == 8
    assert faults.retry_wait(0, base=1.0, cap=60, asked=5, jitter=0.5) == 5
    assert faults.retry_wait(0, base=1.0, cap=60, asked=3600, jitter=1.0) == 60


def test_the_redactor_takes_keys_from_the_environment_and_key_shapes():
    from dgm.fm.faults import Redactor

    redact = Redactor(["configured-secret"], environ={"ANTHROPIC_API_KEY": "ant-12345678",
                                                      "HOME": "/root"})  # fmt: skip
    text = redact("a ant-12345678 b configured-secret c sk-proj-abcdefghijklmnop d /root")
    assert text == "a [redacted] b [redacted] c [redacted] d /root"
