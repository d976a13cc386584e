"""The one client for the dgm FM gateway: OpenAI chat completions over a Unix socket.

Standard library only and imports nothing of dgm, because agents carry it in their own
source: the seed agent's `fmclient.py` is this file, byte for byte (a test holds them equal).
The gateway holds the keys; the client only knows the socket (`DGM_FM_SOCKET`) and the model
name to put in requests (`DGM_MODEL`).

    from fmclient import FMClient
    client = FMClient()
    reply = client.chat([{"role": "user", "content": "hi"}], tools=None)
    message = reply["choices"][0]["message"]  # {"role", "content", "tool_calls"}
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time

DEFAULT_SOCKET = "/fm/fm.sock"
TIMEOUT = 900.0
RETRIES = 2  # only when the socket cannot be reached or is busy, never for the provider's
# errors: the gateway already retried those (a retry here multiplies its retries)


class FMClientError(Exception):
    """The gateway answered with an error (`status`, `kind` as in OpenAI's error JSON) or
    could not be reached (`status` 0). `transient`: worth trying again from the client."""

    def __init__(self, message: str, status: int = 0, kind: str = "connection_error",
                 transient: bool = False):  # fmt: skip
        super().__init__(message)
        self.status, self.kind, self.transient = status, kind, transient


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over an AF_UNIX socket."""

    def __init__(self, path: str, timeout: float = TIMEOUT):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


class FMClient:
    """Keeps one HTTP/1.1 connection open; only a busy or unreachable socket is retried."""

    def __init__(self, socket_path: str | None = None, model: str | None = None,
                 timeout: float = TIMEOUT, retries: int = RETRIES):  # fmt: skip
        self.socket_path = socket_path or os.environ.get("DGM_FM_SOCKET") or DEFAULT_SOCKET
        self.model = model or os.environ.get("DGM_MODEL") or "unknown"
        self.timeout, self.retries = timeout, retries
        self._conn: UnixHTTPConnection | None = None
        self.last_body = b""  # the raw bytes of the last response, as the gateway sent them

    def chat(self, messages: list, tools: list | None = None, **params) -> dict:
        """POST /v1/chat/completions; the response document, or FMClientError."""
        payload = dict(params, model=self.model, messages=messages)
        if tools:
            payload["tools"] = tools
        body = json.dumps(payload).encode()
        delay = 1.0
        for attempt in range(self.retries + 1):
            try:
                return self._answer(*self._post(body))
            except FMClientError as exc:
                if not exc.transient or attempt == self.retries:
                    raise
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def complete(self, messages: list, tools: list | None = None, **params) -> dict:
        """The assistant message only: {"role", "content", "tool_calls"}."""
        return self.chat(messages, tools, **params)["choices"][0]["message"]

    def _answer(self, status: int, data: bytes) -> dict:
        self.last_body = data
        try:
            doc = json.loads(data)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise FMClientError(f"gateway sent no JSON object (HTTP {status})", status,
                                "bad_response")  # fmt: skip
        error = doc.get("error")
        if status == 200 and not error:
            return doc
        error = error if isinstance(error, dict) else {"message": str(error or "")}
        # too many open connections to the socket: ours will close, so a retry helps
        busy = status == 429 and error.get("code") == "too_many_connections"
        message, kind = error.get("message") or f"HTTP {status}", error.get("type") or "error"
        raise FMClientError(message, status, kind, transient=busy)

    def _post(self, body: bytes) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        for attempt in (0, 1):  # a kept-alive connection may have been closed: reconnect once
            if self._conn is None:
                self._conn = UnixHTTPConnection(self.socket_path, self.timeout)
            try:
                self._conn.request("POST", "/v1/chat/completions", body, headers)
                response = self._conn.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                self.close()
                if attempt or isinstance(exc, (FileNotFoundError, socket.timeout)):
                    # a call that timed out may still be running: never send it twice
                    transient = not isinstance(exc, socket.timeout)
                    raise FMClientError(
                        f"cannot reach the FM gateway: {exc}", transient=transient
                    ) from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Drop the connection (a later call reconnects)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def chat(messages: list, tools: list | None = None, **params) -> dict:
    """One call with a fresh client (reads DGM_FM_SOCKET / DGM_MODEL)."""
    client = FMClient()
    try:
        return client.chat(messages, tools, **params)
    finally:
        client.close()
