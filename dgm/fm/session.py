"""One FM session: the tags every call is charged to, and its socket directory."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dgm.fm.budget import Spend
from dgm.fm.errors import BudgetExceeded, FMError
from dgm.fm.server import UnixHTTPServer

if TYPE_CHECKING:
    from dgm.fm.gateway import Gateway

ROLES = ("solve", "self_modify", "diagnose")
CONTAINER_SOCKET_DIR = "/fm"  # where the sandbox mounts the socket directory
SOCKET_NAME = "fm.sock"


@dataclass(frozen=True)
class SessionTags:
    """What a session's calls are charged to."""

    run: str
    node: int | None
    task: str | None
    role: str
    attempt: int = 0

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise FMError(f"unknown FM session role {self.role!r} (one of {', '.join(ROLES)})")


class Session:
    """A context manager: while open, `socket_dir/fm.sock` serves chat completions charged to
    `tags`. `sim_context` stays on the host (it only reaches the sim model)."""

    def __init__(self, gateway: Gateway, tags: SessionTags, sim_context: dict | None = None):
        self.gateway, self.tags = gateway, tags
        self.sim_context = dict(sim_context or {})
        self.id = uuid.uuid4().hex[:12]
        self.spend = Spend()  # what the budget keeper charges
        self.socket_dir: Path | None = None
        self.env = {
            "DGM_FM_SOCKET": f"{CONTAINER_SOCKET_DIR}/{SOCKET_NAME}",
            "DGM_MODEL": gateway.model,
        }
        self._lock = threading.Lock()
        self._next_index = 0
        self._calls = 0
        self._tokens = 0
        self._cost = 0.0
        self._refused = False
        self._server: UnixHTTPServer | None = None

    # -- counters (thread-safe) ------------------------------------------------------------
    @property
    def calls(self) -> int:
        """Completed calls (answered, from the model or the cache)."""
        with self._lock:
            return self._calls

    @property
    def refused(self) -> bool:
        """True once a call of this session was refused because the run's budget was
        spent: what the agent did after that measures the budget, not the agent."""
        with self._lock:
            return self._refused

    def mark_refused(self) -> None:
        with self._lock:
            self._refused = True

    def raise_if_refused(self) -> None:
        if self.refused:
            raise BudgetExceeded("the FM budget ran out during this job; it is not recorded")

    @property
    def tokens(self) -> int:
        with self._lock:
            return self._tokens

    @property
    def cost(self) -> float:
        with self._lock:
            return self._cost

    def next_index(self) -> int:
        """The 0-based index of a new call within this session."""
        with self._lock:
            index = self._next_index
            self._next_index += 1
            return index

    def add(self, tokens: int, cost: float) -> None:
        with self._lock:
            self._calls += 1
            self._tokens += tokens
            self._cost += cost

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def socket_path(self) -> Path | None:
        """The host path of the socket (None when closed)."""
        return self.socket_dir / SOCKET_NAME if self.socket_dir else None

    def open(self) -> Session:
        """Create the socket directory and start serving."""
        directory = Path(tempfile.mkdtemp(prefix="dgm-fm-"))
        try:
            directory.chmod(0o755)  # the sandbox's non-root user must reach the socket
            path = directory / SOCKET_NAME
            self._server = UnixHTTPServer(
                str(path), lambda body: self.gateway.handle_http(self, body), self.gateway.model
            )
            os.chmod(path, 0o666)
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        self.socket_dir = directory
        return self

    def close(self) -> None:
        """Stop serving and remove the socket directory (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        if self.socket_dir is not None:
            shutil.rmtree(self.socket_dir, ignore_errors=True)
            self.socket_dir = None
        self.gateway._forget(self)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
