"""The host-side FM gateway: every model call of a run goes through here.

Containers reach it through a per-session Unix socket (`session.py`, served by
`server.py`); host code calls `Gateway.complete`. The gateway keeps the run's open sessions
and the path of one call: the cache, then the budget (`accounts.py`), then the provider
(`calls.py`, the only retry policy of the path). Every outcome writes the ledger: one row
per answer or refusal, one per failed provider attempt. A reply without `usage` is counted
with litellm's tokenizer and its row marked `estimated`. A call is recorded when the
provider answers, even if the agent that asked is gone.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import litellm

from dgm import defaults
from dgm.fm import faults, replies
from dgm.fm.accounts import Accounts, validate_model
from dgm.fm.budget import Budget
from dgm.fm.cache import ResponseCache, canonical_key
from dgm.fm.calls import ProviderCalls
from dgm.fm.errors import BudgetExceeded, CacheMiss, FMError, ProviderDown
from dgm.fm.ledger import Ledger
from dgm.fm.server import MAX_BODY, MAX_CONNECTIONS, error_body, http_answer
from dgm.fm.session import Session, SessionTags
from dgm.fm.sim import provider

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
litellm.suppress_debug_info = True
logging.getLogger("dgm.fm").addHandler(logging.NullHandler())  # never Python's stderr fallback


class Gateway:
    """FM access for one run. See docs/contracts.md, "FM access"."""

    def __init__(
        self,
        model: str,
        api_base: str | None = None,
        ledger: Ledger | None = None,
        budget: Budget | None = None,
        cache_dir: str | os.PathLike | None = None,
        cache_mode: str = "off",
        seed: int = 0,
        cost_unknown: str = "refuse",
        sim_fault_rate: float = defaults.SIM_FAULT_RATE,
        sim_broken_weight: float = defaults.SIM_BROKEN_WEIGHT,
        sim_hack_weight: float = defaults.SIM_HACK_WEIGHT,
        timeout: float = 120,
        retries: int = 4,
        backoff: float = 1.0,
        max_retry_wait: float = 60.0,
        session_connections: int = MAX_CONNECTIONS,
        max_request_bytes: int = MAX_BODY,
        secrets: list[str] | None = None,
        log_path: str | os.PathLike | None = None,
    ):
        budget = budget or Budget()
        validate_model(model, api_base, cost_unknown, budget.dollars)
        self.model, self.api_base, self.ledger, self.seed = model, api_base, ledger, seed
        self.session_connections, self.max_request_bytes = session_connections, max_request_bytes
        self.redact = faults.Redactor(secrets)
        self.accounts = Accounts(model, ledger, budget)
        self.budget = self.accounts.budget
        sim = {"fault_rate": sim_fault_rate, "broken_weight": sim_broken_weight,
               "hack_weight": sim_hack_weight}  # fmt: skip
        self.calls = ProviderCalls(self.accounts, model, api_base, timeout, retries, backoff,
                                   max_retry_wait, seed, sim, self.redact)  # fmt: skip
        self.timeout, self.retries = timeout, self.calls.retries
        self.is_sim = self.accounts.is_sim
        self.cache = ResponseCache(cache_dir, cache_mode)
        self._sessions: set[Session] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._log_handler = None
        if log_path is not None:  # the run's log: dropped replies, connection errors
            Path(log_path).parent.mkdir(parents=True, exist_ok=True)
            self._log_handler = logging.FileHandler(log_path, encoding="utf-8")
            self._log_handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
            logger = logging.getLogger("dgm.fm")
            logger.addHandler(self._log_handler)
            logger.setLevel(logging.INFO)

    # -- sessions --------------------------------------------------------------------------
    def session(self, tags: SessionTags, sim_context: dict | None = None,
                max_calls: int | None = None) -> Session:  # fmt: skip
        """Open a session (its socket serves at once); use it as a context manager.
        `max_calls` tightens the budget's per-session call cap for this one."""
        session = self.register(tags, sim_context, max_calls)
        try:
            return session.open()
        except BaseException:
            self.forget(session)
            raise

    def register(self, tags: SessionTags, sim_context: dict | None = None,
                 max_calls: int | None = None) -> Session:  # fmt: skip
        """A session charged to `tags` whose calls come some other way than its own socket
        (a node's proxy relays them); `session()` also serves its socket."""
        with self._lock:
            if self._closed:
                raise FMError("the FM gateway is closed")
            session = Session(self, tags, sim_context, max_calls)
            self._sessions.add(session)
        return session

    def forget(self, session: Session) -> None:
        """A closed session leaves the registry."""
        with self._lock:
            self._sessions.discard(session)

    def close(self) -> None:
        """Close every open session (waiting for calls at the provider, so they reach the
        ledger); later `session()` calls fail."""
        with self._lock:
            self._closed = True
            sessions = list(self._sessions)
        for session in sessions:
            session.close()
        if self._log_handler is not None:
            logging.getLogger("dgm.fm").removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None

    # -- what the run asks -----------------------------------------------------------------
    def complete(self, session: Session, messages: list, tools: list | None = None, **params):
        """A host-side call; returns the assistant message dict or raises FMError."""
        payload = {"messages": messages, **params}
        if tools is not None:
            payload["tools"] = tools
        body = json.loads(self.serve(session, payload))
        return body["choices"][0]["message"]

    def spent(self) -> float:
        """Dollars spent by the run so far (including earlier runs of it, via the ledger)."""
        with self.budget.run.lock:
            return self.budget.run.dollars

    @property
    def exhausted(self) -> bool:
        """True once the run's FM budget refuses further calls."""
        return self.budget.exhausted

    def call_deadline(self) -> float:
        """The longest one call can stay at the provider, retries and waits included."""
        return self.calls.deadline()

    # -- the call path ---------------------------------------------------------------------
    def handle_http(self, session: Session, body: bytes) -> tuple[int, bytes]:
        """Answer one HTTP request body from a session's socket: (status, response body)."""
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            message = f"request body is not valid JSON: {exc}"
            self.accounts.record(session, 0, 0, 0.0, False, 0.0, message)
            return 400, error_body(message, "invalid_request_error")
        return http_answer(lambda: self.serve(session, payload), self.redact)

    def serve(self, session: Session, payload: object) -> bytes:
        """Answer one request (a parsed chat-completions body) with a response body; every
        outcome writes the ledger: one row per answer or refusal, one per failed attempt."""
        session.call_started()
        try:
            return self._serve(session, payload, time.monotonic())
        finally:
            session.call_ended()

    def _serve(self, session: Session, payload: object, start: float) -> bytes:
        try:
            messages, tools, params = replies.parse_request(payload)
            index = session.next_index()
            key = self._cache_key(session, messages, tools, params, index)
            if key is not None:
                cached = self.cache.get(key)
                if cached is not None:
                    self.accounts.answered(session, cached, 0.0, True, start)
                    return cached
                if self.cache.mode == "replay":
                    tags = session.tags
                    raise CacheMiss(
                        f"replay cache miss: node {tags.node}, task {tags.task}, role "
                        f"{tags.role}, attempt {tags.attempt}, call {index} (key {key[:16]})"
                    )
            body, cost = self._ask_provider(session, messages, tools, params, index)
        except FMError as exc:
            if isinstance(exc, BudgetExceeded) and exc.scope == "run":
                session.mark_refused()
            if isinstance(exc, ProviderDown):
                session.mark_provider_fault(exc)
            if not exc.recorded:
                error = self.redact(str(exc))
                self.accounts.record(session, 0, 0, 0.0, False, time.monotonic() - start, error)
            raise
        if key is not None:
            self.cache.put(key, body)
        self.accounts.answered(session, body, cost, False, start)
        return body

    def _cache_key(self, session: Session, messages: list, tools: list | None,
                   params: dict[str, Any], index: int) -> str | None:  # fmt: skip
        if self.cache.mode == "off":
            return None
        tags = session.tags
        identity = {"seed": self.seed, "node": tags.node, "task": tags.task, "role": tags.role,
                    "attempt": tags.attempt}  # fmt: skip
        return canonical_key(self.model, messages, tools, params, identity, index)

    def _ask_provider(self, session: Session, messages: list, tools: list | None,
                      params: dict[str, Any], index: int) -> tuple[bytes, float]:  # fmt: skip
        """The answer's body and cost; the budget reserved before the call, settled after."""
        accounts = self.accounts
        guess = provider.estimate_tokens(messages) + provider.estimate_tokens(tools)
        held = self.budget.reserve(session.spend, guess, accounts.price(guess, 0))
        try:
            response = self.calls.call(session, messages, tools, params, index)
            model = accounts.litellm_model
            prompt, completion, estimated = replies.usage(model, response, messages, tools)
            body = replies.body(self.model, response, prompt, completion, estimated)
            cost = accounts.price(prompt, completion)
        except BaseException:
            self.budget.settle(session.spend, 0.0, counted=False, reservation=held)
            raise
        self.budget.settle(session.spend, cost, tokens=prompt + completion, reservation=held)
        return body, cost
