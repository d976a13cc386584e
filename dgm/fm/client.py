"""A standard-library client for the dgm FM gateway (OpenAI chat completions over a Unix
socket). Agent code copies this file into its own source: it imports nothing of dgm.

    from fm_client import FMClient
    client = FMClient()  # reads DGM_FM_SOCKET and DGM_MODEL
    reply = client.chat([{"role": "user", "content": "hi"}], tools=None)
    message = reply["choices"][0]["message"]  # {"role", "content", "tool_calls"}
"""

from __future__ import annotations

import http.client
import json
import os
import socket

DEFAULT_SOCKET = "/fm/fm.sock"


class FMClientError(Exception):
    """The gateway answered with an error (`status`, `kind` as in OpenAI's error JSON) or
    could not be reached (`status` 0)."""

    def __init__(self, message: str, status: int = 0, kind: str = "connection_error"):
        super().__init__(message)
        self.status, self.kind = status, kind


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


class FMClient:
    """Keeps one HTTP/1.1 connection open to the gateway's socket."""

    def __init__(self, socket_path: str | None = None, model: str | None = None,
                 timeout: float = 900.0):  # fmt: skip
        self.socket_path = socket_path or os.environ.get("DGM_FM_SOCKET") or DEFAULT_SOCKET
        self.model = model or os.environ.get("DGM_MODEL") or "unknown"
        self.timeout = timeout
        self._conn: _UnixConnection | None = None
        self.last_body = b""  # the raw bytes of the last response, as the gateway sent them

    def chat(self, messages: list, tools: list | None = None, **params) -> dict:
        """POST /v1/chat/completions; returns the response document or raises FMClientError."""
        payload = dict(params, model=self.model, messages=messages)
        if tools:
            payload["tools"] = tools
        body = json.dumps(payload).encode()
        status, data = self._post(body)
        self.last_body = data
        try:
            doc = json.loads(data)
        except ValueError:
            raise FMClientError(
                f"gateway sent non-JSON (HTTP {status})", status, "bad_response"
            ) from None
        if status != 200:
            err = doc.get("error") or {}
            raise FMClientError(
                err.get("message") or f"HTTP {status}", status, err.get("type") or "error"
            )
        return doc

    def complete(self, messages: list, tools: list | None = None, **params) -> dict:
        """The assistant message only: {"role", "content", "tool_calls"}."""
        return self.chat(messages, tools, **params)["choices"][0]["message"]

    def _post(self, body: bytes) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        for attempt in (0, 1):  # a kept-alive connection may have been closed: reconnect once
            if self._conn is None:
                self._conn = _UnixConnection(self.socket_path, self.timeout)
            try:
                self._conn.request("POST", "/v1/chat/completions", body, headers)
                response = self._conn.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                self.close()
                if attempt or isinstance(exc, (FileNotFoundError, socket.timeout)):
                    raise FMClientError(f"cannot reach the FM gateway: {exc}") from None
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
