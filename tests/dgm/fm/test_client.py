"""The one FM client: the seed agent carries it byte for byte, and it retries only what a
client retry can fix (a busy or missing socket), never the provider's errors."""

from __future__ import annotations

import http.server
import json
import socketserver
import threading
from pathlib import Path

import pytest

from dgm.fm import client as fm_client
from dgm.fm.client import FMClient, FMClientError

ROOT = Path(__file__).resolve().parents[3]


def test_the_seed_agent_carries_the_client_byte_for_byte():
    vendored = ROOT / "dgm" / "seed_agent" / "fmclient.py"
    assert vendored.read_bytes() == (ROOT / "dgm" / "fm" / "client.py").read_bytes()


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def _serve(path: Path, answers: list[tuple[int, dict]]):
    """A Unix-socket HTTP server answering with `answers` in order; returns (server, seen)."""
    seen: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def address_string(self) -> str:  # AF_UNIX peers have no (host, port)
            return "unix"

        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            seen.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            status, doc = answers[min(len(seen), len(answers)) - 1]
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = _Server(str(path), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


OK = (200, {"choices": [{"message": {"role": "assistant", "content": "hi"}}]})
BUSY = (429, {"error": {"message": "busy", "type": "rate_limit", "code": "too_many_connections"}})
DOWN = (503, {"error": {"message": "provider down", "type": "provider_unavailable"}})


@pytest.fixture(autouse=True)
def no_wait(monkeypatch):
    monkeypatch.setattr(fm_client.time, "sleep", lambda s: None)


def test_a_busy_socket_is_retried_then_answers(tmp_path):
    server, seen = _serve(tmp_path / "fm.sock", [BUSY, BUSY, OK])
    try:
        message = FMClient(str(tmp_path / "fm.sock"), "m").complete([{"role": "user"}])
    finally:
        server.shutdown()
    assert message["content"] == "hi" and len(seen) == 3
    assert all(req["model"] == "m" for req in seen)


def test_the_providers_errors_are_never_retried_by_the_client(tmp_path):
    server, seen = _serve(tmp_path / "fm.sock", [DOWN, OK])
    try:
        with pytest.raises(FMClientError) as info:
            FMClient(str(tmp_path / "fm.sock"), "m").chat([])
    finally:
        server.shutdown()
    assert (info.value.status, info.value.kind, info.value.transient) == (
        503,
        "provider_unavailable",
        False,
    )
    assert len(seen) == 1


def test_a_missing_socket_is_retried_then_named(tmp_path, monkeypatch):
    tries = []
    real = fm_client.UnixHTTPConnection.connect

    def counting(self):
        tries.append(1)
        return real(self)

    monkeypatch.setattr(fm_client.UnixHTTPConnection, "connect", counting)
    with pytest.raises(FMClientError, match="cannot reach the FM gateway") as info:
        FMClient(str(tmp_path / "absent.sock"), "m", retries=2).chat([])
    assert info.value.status == 0 and len(tries) == 3


def test_non_json_is_a_bad_response(tmp_path):
    server, _ = _serve(tmp_path / "fm.sock", [(200, "not a document")])
    try:
        with pytest.raises(FMClientError) as info:
            FMClient(str(tmp_path / "fm.sock"), "m").chat([])
    finally:
        server.shutdown()
    assert info.value.kind == "bad_response"
