"""An HTTP/1.1 server on a Unix socket: the per-session endpoint containers talk to.

Every connection gets a thread (keep-alive clients hold one); the session is known from the
socket the request came through, never from anything in the request.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

Handler = Callable[[bytes], tuple[int, bytes]]  # request body -> (status, response body)

CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")
MAX_BODY = 64 * 1024 * 1024  # generous; a transcript of a long session stays well below


def error_body(message: str, kind: str, code: str | None = None) -> bytes:
    """An OpenAI-style error document."""
    doc = {"error": {"message": message, "type": kind, "code": code or kind, "param": None}}
    return json.dumps(doc).encode()


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: UnixHTTPServer

    def do_POST(self) -> None:  # noqa: N802 - the http.server naming
        if self.path.split("?", 1)[0].rstrip("/") not in CHAT_PATHS:
            self._send(404, error_body(f"no such endpoint: {self.path}", "not_found"))
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            self._send(411, error_body("Content-Length is required", "invalid_request_error"))
            return
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self._send(413, error_body("request body too large", "invalid_request_error"))
            return
        body = self.rfile.read(length)
        status, out = self.server.handler(body)
        self._send(status, out)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            doc = {"object": "list", "data": [{"id": self.server.model, "object": "model"}]}
            self._send(200, json.dumps(doc).encode())
        else:
            self._send(404, error_body(f"no such endpoint: {self.path}", "not_found"))

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def address_string(self) -> str:
        return "fm.sock"  # Unix sockets have no peer address

    def log_message(self, format, *args) -> None:  # noqa: A002
        pass  # the ledger is the log


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Serves `handler` on `path` from a background thread until `stop()`."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, path: str, handler: Handler, model: str):
        self.handler, self.model = handler, model
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(path, _RequestHandler)
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name=f"fm-gateway {path}",
        )  # fmt: skip
        self._thread.start()

    def get_request(self):
        conn, addr = super().get_request()
        with self._conn_lock:
            self._connections.add(conn)
        return conn, addr

    def shutdown_request(self, request) -> None:
        with self._conn_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def stop(self) -> None:
        """Stop accepting, drop open keep-alive connections, close the socket."""
        self.shutdown()
        self.server_close()
        with self._conn_lock:
            open_connections = list(self._connections)
        for conn in open_connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)
