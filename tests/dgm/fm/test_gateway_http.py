"""The real HTTP path: client -> session socket -> gateway -> litellm -> loopback OpenAI."""

from __future__ import annotations

import json
import socket

import pytest
from fm_fake_openai import completion, error

from dgm.fm import FMError, ProviderDown, ProviderError, SessionTags
from dgm.fm.client import FMClient, FMClientError

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "bash",
            "description": "run a command",
            "parameters": {
                "type": "object",
                "properties": {"command": {"type": "string"}},
                "required": ["command"],
            },
        },
    }
]
TOOL_CALL = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "bash", "arguments": '{"command": "ls -la"}'},
        }
    ],
}
USER = [{"role": "user", "content": "list the files"}]


def tags(role="solve", node=3, task="HumanEval/0", attempt=0) -> SessionTags:
    return SessionTags(run="run-1", node=node, task=task, role=role, attempt=attempt)


def test_tool_calls_round_trip_and_tokens_are_counted(make_gateway, fake_openai, ledger):
    fake_openai.script.append((200, completion(TOOL_CALL, 120, 30)))
    gw = make_gateway()
    with gw.session(tags()) as s:
        reply = FMClient(str(s.socket_path)).chat(USER, tools=TOOLS, temperature=0.0)
        assert s.calls == 1 and s.tokens == 150
    message = reply["choices"][0]["message"]
    assert message["tool_calls"] == TOOL_CALL["tool_calls"]
    assert reply["choices"][0]["finish_reason"] == "tool_calls"
    assert reply["usage"] == {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
    sent = fake_openai.requests[0]
    assert sent["tools"] == TOOLS and sent["messages"] == USER and sent["temperature"] == 0.0
    assert sent["model"] == "gpt-4o-mini"
    (row,) = ledger.rows
    assert (row.node, row.task, row.role, row.error, row.cached) == (3, "HumanEval/0", "solve",
                                                                      None, False)  # fmt: skip
    assert (row.prompt_tokens, row.completion_tokens) == (120, 30)
    assert row.cost == pytest.approx(120 * 0.15e-6 + 30 * 0.6e-6)  # litellm's gpt-4o-mini price
    assert gw.spent() == pytest.approx(row.cost)


def test_a_429_is_retried(make_gateway, fake_openai, ledger):
    fake_openai.script.append(error(429, "slow down", "rate_limit_error"))
    gw = make_gateway()
    with gw.session(tags()) as s:
        message = gw.complete(s, USER)
    assert message["content"] == "ok"
    assert len(fake_openai.requests) == 2
    # one row per provider attempt: the failed one, then the answer
    assert [r.error is None for r in ledger.rows] == [False, True]
    assert "attempt 1" in ledger.rows[0].error and "slow down" in ledger.rows[0].error


def test_a_500_is_the_providers_fault_with_a_row_per_attempt(make_gateway, fake_openai, ledger):
    fake_openai.default = error(500, "the provider broke")
    gw = make_gateway(retries=1)
    with gw.session(tags()) as s:
        with pytest.raises(FMClientError) as info:
            FMClient(str(s.socket_path)).chat(USER)
        assert s.calls == 0
        with pytest.raises(ProviderDown, match="not recorded"):
            s.raise_if_refused()  # the job is held: the provider failed, not the agent
    assert info.value.status == 503 and info.value.kind == "provider_unavailable"
    assert "after 2 attempts" in str(info.value)
    assert len(fake_openai.requests) == 2
    assert [r.error[:10] for r in ledger.rows] == ["attempt 1:", "attempt 2:"]
    assert all("provider broke" in r.error and r.cost == 0 for r in ledger.rows)


def test_context_length_error_is_a_400(make_gateway, fake_openai, ledger):
    fake_openai.default = error(
        400, "This model's maximum context length is 128000 tokens.", "invalid_request_error",
        "context_length_exceeded",
    )  # fmt: skip
    gw = make_gateway()
    with gw.session(tags()) as s:
        with pytest.raises(FMClientError) as info:
            FMClient(str(s.socket_path)).chat(USER)
        with pytest.raises(ProviderError):
            gw.complete(s, USER)
    assert info.value.status == 400 and info.value.kind == "context_length_exceeded"
    assert len(fake_openai.requests) == 2  # not retried
    assert all(r.error for r in ledger.rows) and len(ledger.rows) == 2


def _raw_post(path: str, body: bytes) -> tuple[int, dict]:
    """A hand-made HTTP request over the socket, for bodies a client would not send."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(path)
        head = (
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"messages": []}', "'messages' must be a non-empty list"),
        (b'{"messages": [{"content": "no role"}]}', "messages[0]"),
        (b'{"messages": [{"role": "user", "content": "x"}], "stream": true}', "streaming"),
    ],
)
def test_a_malformed_body_is_a_clear_400(make_gateway, fake_openai, ledger, body, words):
    gw = make_gateway()
    with gw.session(tags()) as s:
        status, doc = _raw_post(str(s.socket_path), body)
    assert status == 400 and words in doc["error"]["message"]
    assert doc["error"]["type"] == "invalid_request_error"
    assert fake_openai.requests == []
    (row,) = ledger.rows
    assert words in row.error


def test_session_tags_come_from_the_socket(make_gateway, fake_openai, ledger):
    gw = make_gateway()
    with gw.session(tags(node=1, task="a")) as s1, gw.session(tags(node=2, task="b")) as s2:
        # a request cannot claim another session: body fields are not tags
        FMClient(str(s2.socket_path)).chat(USER, user="node-1", metadata={"node": 1})
        FMClient(str(s1.socket_path)).chat(USER)
        assert (s1.calls, s2.calls) == (1, 1)
    assert [(r.node, r.task) for r in ledger.rows] == [(2, "b"), (1, "a")]
    assert ledger.rows[0].session != ledger.rows[1].session


def test_socket_directory_permissions_env_and_cleanup(make_gateway):
    gw = make_gateway()
    with gw.session(tags()) as s:
        directory = s.socket_dir
        assert directory.stat().st_mode & 0o777 == 0o755
        assert s.socket_path.stat().st_mode & 0o777 == 0o666
        assert s.env == {"DGM_FM_SOCKET": "/fm/fm.sock", "DGM_MODEL": "openai/gpt-4o-mini"}
    assert not directory.exists()
    gw.close()
    with pytest.raises(FMError, match="closed"):
        gw.session(tags())


def test_keep_alive_connection_serves_several_calls(make_gateway, fake_openai):
    gw = make_gateway()
    with gw.session(tags()) as s:
        client = FMClient(str(s.socket_path))
        for _ in range(3):
            client.chat(USER)
        assert s.calls == 3
        client.close()
    with pytest.raises(FMClientError, match="cannot reach"):
        FMClient(str(s.socket_path) if s.socket_dir else "/nonexistent/fm.sock").chat(USER)
