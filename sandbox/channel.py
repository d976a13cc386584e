"""The host's end of the control channel to a sandbox's runner (see `sandbox/runner.py`).

The host listens on a Unix socket in a private directory that is mounted read-only into the
container; the runner, PID 1, connects once at boot. The host then closes and unlinks the
listener, so nothing the sandbox runs later can connect to it.
"""

from __future__ import annotations

import json
import selectors
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

from sandbox.errors import SandboxError, SandboxTimeout
from sandbox.output import BoundedStream

HEADER_SIZE = 5
CHUNK = 1 << 16
SOCKET_NAME = "ctl.sock"


class Listener:
    """A control socket waiting for one runner to connect."""

    def __init__(self, parent: Path | None = None):
        self.dir = Path(tempfile.mkdtemp(prefix="dgm-ctl-", dir=parent))
        self.dir.chmod(0o755)  # the sandbox user must reach the socket
        self.path = self.dir / SOCKET_NAME
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(self.path))
        self.path.chmod(0o666)
        self.sock.listen(1)

    def accept(self, timeout: float, alive) -> Channel:
        """The runner's connection; `alive()` false means the container could not start."""
        self.sock.settimeout(0.05)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                try:
                    conn, _ = self.sock.accept()
                except TimeoutError:
                    if not alive():
                        raise SandboxError(
                            "the sandbox ended before its runner started (does the image have "
                            "python3?)"
                        ) from None
                    continue
                conn.settimeout(None)
                return Channel(conn)
            raise SandboxTimeout(f"the sandbox's runner did not start within {timeout:g} s")
        finally:
            self.close()

    def close(self) -> None:
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Channel:
    """Frames to and from one runner; one command at a time."""

    def __init__(self, conn: socket.socket):
        self.conn = conn
        self.lock = threading.Lock()
        self.buf = bytearray()
        self.closed = False

    def send(self, kind: str, payload: bytes = b"") -> None:
        with self.lock:
            header = ord(kind).to_bytes(1, "big") + len(payload).to_bytes(4, "big")
            self.conn.sendall(header + payload)

    def kill_all(self) -> None:
        try:
            self.send("K")
        except OSError:
            pass

    def close(self) -> None:
        """Closing ends the session: the runner kills everything and exits."""
        self.closed = True
        try:
            self.conn.close()
        except OSError:
            pass

    def _frames(self):
        """Complete frames in the buffer."""
        while len(self.buf) >= HEADER_SIZE:
            size = int.from_bytes(self.buf[1:HEADER_SIZE], "big")
            if len(self.buf) < HEADER_SIZE + size:
                return
            kind = chr(self.buf[0])
            payload = bytes(self.buf[HEADER_SIZE : HEADER_SIZE + size])
            del self.buf[: HEADER_SIZE + size]
            yield kind, payload

    def _feed(self, data: bytes) -> None:
        try:
            for i in range(0, len(data), CHUNK):
                self.send("I", data[i : i + CHUNK])
            self.send("E")
        except OSError:
            pass  # the session ended; the command's report says so

    def run(
        self,
        request: dict,
        out: BoundedStream,
        err: BoundedStream,
        stdin: bytes | None,
        backstop: float,
    ) -> tuple[dict, bool]:
        """Run one command, filling `out` and `err`. Returns the runner's exit report and
        whether the command was killed for its output. `backstop` is the host's own deadline
        (past the command's limit) for a runner that stops answering."""
        if self.closed:
            raise SandboxError("the sandbox is not running")
        try:
            self.send("R", json.dumps({**request, "stdin": stdin is not None}).encode())
        except OSError as exc:
            raise SandboxTimeout("the sandbox ended (session timeout or removed)") from exc
        if stdin is not None:
            threading.Thread(target=self._feed, args=(stdin,), daemon=True).start()
        sel = selectors.DefaultSelector()
        sel.register(self.conn, selectors.EVENT_READ)
        deadline = time.monotonic() + backstop
        killed_for_output = False
        try:
            while True:
                if time.monotonic() > deadline:
                    raise SandboxTimeout("the sandbox stopped answering past the time limit")
                if not sel.select(timeout=0.5):
                    continue
                data = self.conn.recv(CHUNK)
                if not data:
                    raise SandboxTimeout("the sandbox ended (session timeout or removed)")
                self.buf += data
                for kind, payload in self._frames():
                    if kind == "X":
                        return json.loads(payload), killed_for_output
                    (out if kind == "O" else err).add(payload)
                if not killed_for_output and (out.overflowed or err.overflowed):
                    killed_for_output = True
                    self.kill_all()
        except OSError as exc:
            raise SandboxTimeout("the sandbox ended (session timeout or removed)") from exc
        finally:
            sel.close()
