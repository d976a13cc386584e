"""An HTTP/1.1 server on a Unix socket: the per-session endpoint containers talk to.

Every connection gets a thread (keep-alive clients hold one), up to a cap per session: a
sandboxed agent must not be able to grow the host's threads or memory through its socket, so
connections past the cap get a 429 from the accepting thread and are closed, request bodies
are capped, and an idle connection is dropped. The session is known from the socket the
request came through, never from anything in the request. Nothing here prints: errors of a
connection (an agent that hung up, a garbled request) go to the `dgm.fm` log.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import socketserver
import tempfile
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from dgm.fm.errors import BudgetExceeded, CacheMiss, ProviderError, RequestError
from sandbox import cleanup

Handler = Callable[[bytes], tuple[int, bytes]]  # request body -> (status, response body)

CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")
MAX_BODY = 4 * 1024 * 1024  # default; a 200k-character conversation is well below
MAX_CONNECTIONS = 8  # default open connections per session
IDLE_SECONDS = 120  # a connection silent this long is closed (its thread ends)
SOCKET_NAME = "fm.sock"
log = logging.getLogger("dgm.fm")


def error_body(message: str, kind: str, code: str | None = None) -> bytes:
    """An OpenAI-style error document."""
    doc = {"error": {"message": message, "type": kind, "code": code or kind, "param": None}}
    return json.dumps(doc).encode()


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: UnixHTTPServer
    timeout = IDLE_SECONDS  # socket timeout of every read: an idle connection ends

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
        limit = self.server.max_body
        if length < 0 or length > limit:
            # the body is not read: closing the connection is cheaper than draining it
            self.close_connection = True
            message = f"request body of {length} bytes is over the {limit}-byte limit"
            self._send(413, error_body(message, "invalid_request_error", "request_too_large"))
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
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError as exc:  # the agent hung up (killed, timed out): its reply is dropped
            self.close_connection = True
            log.info("FM reply dropped, the client is gone: %s", exc)

    def address_string(self) -> str:
        return "fm.sock"  # Unix sockets have no peer address

    def log_message(self, format, *args) -> None:  # noqa: A002
        pass  # the ledger is the log


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Serves `handler` on `path` from a background thread until `stop()`."""

    daemon_threads = True
    block_on_close = False

    def __init__(
        self, path: str, handler: Handler, model: str, max_connections: int = MAX_CONNECTIONS,
        max_body: int = MAX_BODY,
    ):  # fmt: skip
        self.handler, self.model = handler, model
        self.max_connections, self.max_body = max_connections, max_body
        self.refused_connections = 0
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

    def process_request(self, request, client_address) -> None:
        """A thread for the connection, or a 429 and close when the session has its cap."""
        with self._conn_lock:
            over = len(self._connections) > self.max_connections  # it counts itself
            if over:
                self.refused_connections += 1
        if not over:  # ThreadingMixIn's, with a name the host can count threads by
            thread = threading.Thread(
                target=self.process_request_thread, args=(request, client_address),
                name="fm-connection", daemon=True,
            )  # fmt: skip
            thread.start()
            return
        message = f"too many connections to the FM gateway (at most {self.max_connections})"
        body = error_body(message, "rate_limit_error", "too_many_connections")
        head = (
            "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
            f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        try:  # never block the accepting thread on an agent that does not read
            request.setblocking(False)
            request.send(head.encode() + body)
        except OSError:
            pass
        self.shutdown_request(request)

    def handle_error(self, request, client_address) -> None:
        """An error in a connection's thread: logged, never printed over the display."""
        log.info("FM connection error", exc_info=True)

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


def http_answer(serve: Callable[[], bytes], redact: Callable[[str], str]) -> tuple[int, bytes]:
    """(status, body) for one request: `serve()`'s answer, or its FMError as OpenAI's error
    document with the status an OpenAI client expects."""
    try:
        return 200, serve()
    except RequestError as exc:
        return 400, error_body(str(exc), "invalid_request_error")
    except BudgetExceeded as exc:
        return 402, error_body(str(exc), "insufficient_quota", "budget_exhausted")
    except CacheMiss as exc:
        return 409, error_body(str(exc), "cache_miss")
    except ProviderError as exc:
        return exc.status, error_body(redact(str(exc)), exc.kind)
    except Exception as exc:  # noqa: BLE001 - the agent gets an answer, the host a log
        log.exception("FM gateway failure")
        return 500, error_body(redact(f"gateway failure: {type(exc).__name__}: {exc}"),
                               "server_error")  # fmt: skip


def serve_socket_dir(handler: Handler, model: str, max_connections: int = MAX_CONNECTIONS,
                     max_body: int = MAX_BODY) -> tuple[Path, UnixHTTPServer]:  # fmt: skip
    """A fresh directory (in this process's scratch root, swept if the process is killed)
    holding `SOCKET_NAME`, served by `handler`; the sandbox mounts the directory."""
    directory = Path(tempfile.mkdtemp(prefix="dgm-fm-", dir=cleanup.owner().path))
    try:
        directory.chmod(0o755)  # the sandbox's non-root user must reach the socket
        path = directory / SOCKET_NAME
        server = UnixHTTPServer(str(path), handler, model, max_connections, max_body)
        os.chmod(path, 0o666)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return directory, server
