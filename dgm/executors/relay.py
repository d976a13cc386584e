"""The head's side of FM access for jobs on other machines.

The run's `Gateway` (keys, ledger, budgets) lives in the head process, which Ray cannot call
into. So a small async actor on the head's node, the mailbox, queues each call from a
worker's node-local proxy; threads of the head long-poll it, answer with the gateway and post
the answer back. A call is addressed to a session id the head made when the job opened its
session: the tags are the head's, never read from a request.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from dgm.fm import FMError
from dgm.fm.session import Session, SessionTags

log = logging.getLogger("dgm.executors")
TAKE_WAIT = 0.5  # seconds one long-poll waits for calls before the head asks again


@ray.remote(num_cpus=0, max_concurrency=10_000)
class Mailbox:
    """Calls waiting for the head, and the head's answers; asyncio, so thousands of calls
    that last seconds cost no thread each."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue = asyncio.Queue()
        self.waiting: dict[int, asyncio.Future] = {}
        self.ids = itertools.count()

    async def call(self, op: str, args: tuple) -> tuple[str, Any]:
        rid = next(self.ids)
        fut = asyncio.get_running_loop().create_future()
        self.waiting[rid] = fut
        self.queue.put_nowait((rid, op, args))
        try:
            return await fut
        finally:
            self.waiting.pop(rid, None)

    async def take(self, wait: float, most: int = 256) -> list:
        try:
            first = await asyncio.wait_for(self.queue.get(), wait)
        except TimeoutError:
            return []
        batch = [first]
        while len(batch) < most and not self.queue.empty():
            batch.append(self.queue.get_nowait())
        return batch

    async def respond(self, rid: int, answer: tuple[str, Any]) -> None:
        fut = self.waiting.get(rid)
        if fut is not None and not fut.done():
            fut.set_result(answer)

    def ping(self) -> bool:
        return True


class HeadRelay:
    """Serves the mailbox's calls with `gateway` from `pumps` long-poll threads and a pool of
    `threads` (a call waits on the model for seconds: enough threads for every sandbox)."""

    def __init__(self, gateway, threads: int = 64, pumps: int = 2):
        self.gateway = gateway
        here = ray.get_runtime_context().get_node_id()
        self.mailbox = Mailbox.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False)
        ).remote()
        ray.get(self.mailbox.ping.remote())
        self.sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="dgm-fm-relay")
        self._pumps = [
            threading.Thread(target=self._pump, name="dgm-fm-pump", daemon=True)
            for _ in range(pumps)
        ]
        for t in self._pumps:
            t.start()

    def _pump(self) -> None:
        while not self._stop.is_set():
            try:
                batch = ray.get(self.mailbox.take.remote(TAKE_WAIT))
            except Exception:  # noqa: BLE001 - the mailbox or Ray is gone: the run is ending
                if not self._stop.is_set():
                    log.info("FM relay stopped taking calls", exc_info=True)
                return
            for rid, op, args in batch:
                self._pool.submit(self._serve, rid, op, args)

    def _serve(self, rid: int, op: str, args: tuple) -> None:
        try:
            answer: tuple[str, Any] = ("ok", getattr(self, f"op_{op}")(*args))
        except Exception as exc:  # noqa: BLE001 - the error goes back to the job as data
            answer = ("err", exc)
        try:
            self.mailbox.respond.remote(rid, answer)
        except Exception:  # noqa: BLE001
            log.info("FM relay answer dropped", exc_info=True)

    # -- what a worker may ask ---------------------------------------------------------------
    def op_open(self, tags: SessionTags, sim_context: dict | None, max_calls: int | None):
        if self._stop.is_set():
            raise FMError("the FM gateway is closed")
        session = Session(self.gateway, SessionTags(**tags.__dict__), sim_context, max_calls)
        with self._lock:
            self.sessions[session.id] = session
        return {
            "sid": session.id, "env": dict(session.env), "model": self.gateway.model,
            "connections": self.gateway.session_connections,
            "max_body": self.gateway.max_request_bytes,
        }  # fmt: skip

    def _session(self, sid: str) -> Session:
        with self._lock:
            session = self.sessions.get(sid)
        if session is None:
            raise FMError(f"no open FM session {sid!r}")
        return session

    def op_http(self, sid: str, body: bytes) -> tuple[int, bytes]:
        return self.gateway.handle_http(self._session(sid), body)

    def op_complete(self, sid: str, messages: list, tools, params: dict):
        return self.gateway.complete(self._session(sid), messages, tools, **params)

    def op_stats(self, sid: str) -> dict[str, Any]:
        return _stats(self._session(sid))

    def op_close(self, sid: str) -> dict[str, Any]:
        with self._lock:
            session = self.sessions.pop(sid, None)
        if session is None:
            return {"calls": 0, "tokens": 0, "cost": 0.0, "error": None}
        session.close()  # waits for calls still at the provider: they count here too
        return _stats(session)

    # -- lifecycle ---------------------------------------------------------------------------
    def open_sessions(self) -> int:
        with self._lock:
            return len(self.sessions)

    def close(self) -> None:
        """Stop answering; close the sessions jobs left open (their calls reach the ledger)."""
        self._stop.set()
        for t in self._pumps:
            t.join(timeout=TAKE_WAIT + 5)
        with self._lock:
            left, self.sessions = list(self.sessions.values()), {}
        for session in left:
            session.close()
        self._pool.shutdown(wait=True, cancel_futures=True)
        try:
            ray.kill(self.mailbox)
        except Exception:  # noqa: BLE001 - Ray already shut down
            pass


def _stats(session: Session) -> dict[str, Any]:
    try:
        session.raise_if_refused()
        error = None
    except FMError as exc:
        error = exc
    return {"calls": session.calls, "tokens": session.tokens, "cost": session.cost,
            "error": error}  # fmt: skip
