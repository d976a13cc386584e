"""A minimal client for the FM gateway: OpenAI chat completions over a Unix socket.

Standard library only. The gateway holds the keys; this client only knows the socket path
(`DGM_FM_SOCKET`) and the model name to put in requests (`DGM_MODEL`).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time

RETRIES = 2  # only when the gateway's socket cannot be reached or is busy, never for the
# provider's errors: the gateway already retried those (a retry here multiplies its retries)
TIMEOUT = 900.0


class FMError(Exception):
    """The gateway answered with an error (or could not be reached)."""

    def __init__(self, message: str, status: int = 0, transient: bool = False):
        super().__init__(message)
        self.status = status
        self.transient = transient


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
    """Chat completions against the gateway; only a busy or unreachable socket is retried."""

    def __init__(self, socket_path: str | None = None, model: str | None = None):
        self.socket_path = socket_path or os.environ.get("DGM_FM_SOCKET", "")
        self.model = model or os.environ.get("DGM_MODEL", "sim")
        if not self.socket_path:
            raise FMError("DGM_FM_SOCKET is not set")

    def chat(self, messages: list[dict], tools: list[dict] | None = None) -> dict:
        """Return the response JSON (`choices`, `usage`); raise FMError on failure."""
        body = {"model": self.model, "messages": messages}
        if tools:
            body["tools"] = tools
        delay = 1.0
        for attempt in range(RETRIES + 1):
            try:
                return self._post(body)
            except FMError as exc:
                if not exc.transient or attempt == RETRIES:
                    raise
            time.sleep(delay)
            delay *= 2
        raise FMError("unreachable")  # pragma: no cover

    def _post(self, body: dict) -> dict:
        conn = UnixHTTPConnection(self.socket_path)
        try:
            conn.request(
                "POST",
                "/v1/chat/completions",
                body=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise FMError(f"cannot reach the FM gateway: {exc}", transient=True) from None
        finally:
            conn.close()
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            data = {"error": {"message": raw[:200].decode(errors="replace")}}
        if resp.status != 200 or "error" in data:
            error = data.get("error") or {}
            message = error.get("message") if isinstance(error, dict) else str(error)
            code = error.get("code") if isinstance(error, dict) else None
            # too many open connections to the socket: ours will close, so a retry helps
            transient = resp.status == 429 and code == "too_many_connections"
            raise FMError(message or f"HTTP {resp.status}", resp.status, transient)
        return data
