"""One FM session: the tags every call is charged to, and its socket directory."""

from __future__ import annotations

import shutil
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dgm.fm.budget import Spend
from dgm.fm.errors import BudgetExceeded, FMError, ProviderDown
from dgm.fm.server import SOCKET_NAME, UnixHTTPServer, serve_socket_dir

ROLES = ("solve", "self_modify", "diagnose")
CONTAINER_SOCKET_DIR = "/fm"  # where the sandbox mounts the socket directory


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


class SessionHost(Protocol):
    """What a session needs of the gateway that opened it."""

    model: str
    session_connections: int
    max_request_bytes: int

    def handle_http(self, session: Session, body: bytes) -> tuple[int, bytes]: ...

    def call_deadline(self) -> float: ...

    def forget(self, session: Session) -> None: ...


class Session:
    """A context manager: while open, `socket_dir/fm.sock` serves chat completions charged to
    `tags`. `sim_context` stays on the host (it only reaches the sim model)."""

    def __init__(self, gateway: SessionHost, tags: SessionTags, sim_context: dict | None = None,
                 max_calls: int | None = None):  # fmt: skip
        self.gateway, self.tags = gateway, tags
        self.sim_context = dict(sim_context or {})
        self.id = uuid.uuid4().hex[:12]
        self.spend = Spend(max_calls=max_calls)  # what the budget keeper charges
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
        self._provider_fault: ProviderDown | None = None
        self.closing = False  # set once the session ends: its calls are no longer retried
        self._in_flight = 0
        self._idle = threading.Condition(self._lock)
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

    def mark_provider_fault(self, exc: ProviderDown) -> None:
        with self._lock:
            if self._provider_fault is None or exc.fatal:
                self._provider_fault = exc

    @property
    def provider_fault(self) -> ProviderDown | None:
        """The provider failure (after the gateway's retries) this session met, if any."""
        with self._lock:
            return self._provider_fault

    def raise_if_refused(self) -> None:
        """Raise when what the agent did in this session measures the run's budget or the
        provider's health rather than the agent: the job is held, not recorded."""
        if self.refused:
            raise BudgetExceeded("the FM budget ran out during this job; it is not recorded")
        fault = self.provider_fault
        if fault is not None:
            raise ProviderDown(
                f"{fault}; the job is not recorded (the provider failed, not the agent)",
                fatal=fault.fatal,
            )

    def call_started(self) -> None:
        with self._lock:
            self._in_flight += 1

    def call_ended(self) -> None:
        with self._lock:
            self._in_flight -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no call of this session is at the provider (its answer is in the
        ledger and the counters, whoever still waits for it); False on timeout."""
        with self._lock:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

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
        gw = self.gateway
        self.socket_dir, self._server = serve_socket_dir(
            lambda body: gw.handle_http(self, body), gw.model, gw.session_connections,
            gw.max_request_bytes,
        )  # fmt: skip
        return self

    def close(self) -> None:
        """Stop serving, wait for the calls still at the provider (bounded by the per-call
        timeout) so they reach the ledger and this session's counters, and remove the socket
        directory (idempotent)."""
        self.closing = True
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        self.wait_idle(self.gateway.call_deadline())
        if self.socket_dir is not None:
            shutil.rmtree(self.socket_dir, ignore_errors=True)
            self.socket_dir = None
        self.gateway.forget(self)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
