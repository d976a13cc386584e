"""The worker's side of FM access: a node-local proxy in front of the head's gateway.

A job on another machine opens its sessions through `RemoteGateway`: the head makes the
session (tags, budgets, ledger stay there) and this process serves its socket on this node,
forwarding each request body, unread, to the head. The socket is bound to the session id the
head returned, so which session a call is charged to comes from the socket it arrived on.
No key is ever on a worker.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import ray

from dgm.fm import FMError
from dgm.fm.server import UnixHTTPServer, error_body, serve_socket_dir
from dgm.fm.session import SessionTags


class RemoteGateway:
    """Quacks like `dgm.fm.Gateway` for what a job needs: `session`, `complete`, `model`."""

    def __init__(self, mailbox, model: str):
        self.mailbox, self.model = mailbox, model

    def ask(self, op: str, *args) -> Any:
        """One call to the head; the head's error is raised here as it was raised there."""
        try:
            kind, value = ray.get(self.mailbox.call.remote(op, args))
        except ray.exceptions.RayError as exc:
            raise FMError(f"the head's FM gateway cannot be reached: {exc}") from None
        if kind == "err":
            raise value
        return value

    def session(self, tags: SessionTags, sim_context: dict | None = None,
                max_calls: int | None = None) -> RemoteSession:  # fmt: skip
        info = self.ask("open", tags, sim_context, max_calls)
        try:
            return RemoteSession(self, tags, info).open()
        except BaseException:
            self.ask("close", info["sid"])
            raise

    def complete(self, session: RemoteSession, messages: list, tools: list | None = None,
                 **params):  # fmt: skip
        return self.ask("complete", session.id, messages, tools, params)


class RemoteSession:
    """A session served on this node: the same surface the jobs use of `Session`."""

    def __init__(self, gateway: RemoteGateway, tags: SessionTags, info: dict[str, Any]):
        self.gateway, self.tags, self.id = gateway, tags, info["sid"]
        self.env = dict(info["env"])
        self.info = info
        self.socket_dir: Path | None = None
        self._server: UnixHTTPServer | None = None
        self._final: dict[str, Any] | None = None

    def open(self) -> RemoteSession:
        info = self.info
        self.socket_dir, self._server = serve_socket_dir(
            self._forward, info["model"], info["connections"], info["max_body"]
        )
        return self

    def _forward(self, body: bytes) -> tuple[int, bytes]:
        try:
            return self.gateway.ask("http", self.id, body)
        except FMError as exc:
            return 503, error_body(str(exc), "server_error", "gateway_unreachable")

    def _stats(self) -> dict[str, Any]:
        return self._final if self._final is not None else self.gateway.ask("stats", self.id)

    @property
    def calls(self) -> int:
        return self._stats()["calls"]

    @property
    def tokens(self) -> int:
        return self._stats()["tokens"]

    @property
    def cost(self) -> float:
        return self._stats()["cost"]

    @property
    def refused(self) -> bool:
        return self._stats()["error"] is not None

    def raise_if_refused(self) -> None:
        error = self._stats()["error"]
        if error is not None:
            raise error

    def close(self) -> None:
        """Stop serving here, then close the head's session (it waits for calls still at
        the provider) and keep its final counters (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        if self._final is None:
            self._final = self.gateway.ask("close", self.id)
        if self.socket_dir is not None:
            shutil.rmtree(self.socket_dir, ignore_errors=True)
            self.socket_dir = None

    def __enter__(self) -> RemoteSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
