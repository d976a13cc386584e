"""`dgm serve`: a read-only local web viewer of one run, on 127.0.0.1 only.

Standard-library `http.server` with a thread per request. It serves the single-page app
shipped in `dgm/views/static/` and three JSON endpoints; nothing is executed and no file
outside the run directory is ever read (paths are resolved first; anything else is 404).
"""

from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from dgm.run.rundir import RunDir
from dgm.views.api import RunData
from dgm.views.data import ViewError

STATIC_DIR = Path(__file__).parent / "static"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
NODE_ROUTE = re.compile(r"/api/node/(\d+)")


def static_files() -> dict[str, Path]:
    """The app's files by URL path: a fixed list, so a URL never names a path on disk."""
    files = {f"/static/{p.name}": p for p in STATIC_DIR.iterdir() if p.suffix in CONTENT_TYPES}
    files["/"] = STATIC_DIR / "index.html"
    return files


class ViewerHandler(BaseHTTPRequestHandler):
    """GET only: the app, /api/tree, /api/node/<id>, /api/log?path=..."""

    server: ViewerServer
    server_version = "dgm-viewer"

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        url = urlsplit(self.path)
        data = self.server.data
        try:
            if url.path in self.server.static:
                file = self.server.static[url.path]
                self._send(200, file.read_bytes(), CONTENT_TYPES[file.suffix])
            elif url.path == "/api/tree":
                self._send(200, data.tree_json())
            elif match := NODE_ROUTE.fullmatch(url.path):
                self._send(200, data.node_json(int(match.group(1))))
            elif url.path == "/api/log":
                path = parse_qs(url.query).get("path", [""])[0]
                self._send(200, data.log_json(path))
            else:
                self._not_found(f"no page '{url.path}'")
        except ViewError as exc:
            self._not_found(str(exc))

    def do_HEAD(self) -> None:  # noqa: N802
        self.send_response(405)
        self.end_headers()

    def _not_found(self, message: str) -> None:
        self._send(404, json.dumps({"error": message}).encode())

    def _send(self, code: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        if self.server.verbose:
            super().log_message(format, *args)


class ViewerServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, run: RunDir, port: int = 0, verbose: bool = False):
        # Loopback only, whatever the caller asks: the viewer has no authentication.
        super().__init__(("127.0.0.1", port), ViewerHandler)
        self.data = RunData(run)
        self.static = static_files()
        self.verbose = verbose

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"
