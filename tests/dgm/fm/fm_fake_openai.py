"""A real loopback OpenAI-compatible HTTP server (standard library), scripted per test."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def completion(message: dict, prompt_tokens: int = 11, completion_tokens: int = 7) -> dict:
    """A chat.completion document holding `message`."""
    finish = "tool_calls" if message.get("tool_calls") else "stop"
    return {
        "id": "chatcmpl-loopback",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def error(status: int, message: str, kind: str = "server_error", code=None) -> tuple:
    return status, {"error": {"message": message, "type": kind, "code": code, "param": None}}


class FakeOpenAI:
    """Answers POST .../chat/completions from a script of (status, document) pairs; when the
    script is empty it answers with `default` (a pair, or a function of the request body that
    returns one). A third item of a pair, a dict, is sent as response headers. `delay`
    seconds pass before each answer. `requests` keeps every parsed request body; `headers`
    their headers, with names in lower case; `times` the monotonic time each arrived."""

    def __init__(self, default=None):
        self.script: list[tuple[int, dict]] = []
        self.default = default or (200, completion({"role": "assistant", "content": "ok"}))
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.times: list[float] = []
        self.delay = 0.0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with fake._lock:
                    fake.times.append(time.monotonic())
                    fake.requests.append(json.loads(body))
                    fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                    if fake.script:
                        answer = fake.script.pop(0)
                    elif callable(fake.default):
                        answer = fake.default(json.loads(body))
                    else:
                        answer = fake.default
                status, doc, *extra = answer
                if fake.delay:
                    time.sleep(fake.delay)
                data = json.dumps(doc).encode()
                try:
                    self._answer(status, data, extra[0] if extra else {})
                except OSError:
                    pass  # the gateway gave up on this request (its timeout)

            def _answer(self, status, data, headers):
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
