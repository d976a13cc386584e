"""The host-side FM gateway: every model call of a run goes through here.

Containers reach it through a per-session Unix socket (see `session.py`); host code calls
`Gateway.complete`. Each call is checked against the budget, answered from the cache or by
`litellm.completion` (the only retry policy of the path, honouring `Retry-After`), priced
with litellm's local price table, and written to the ledger: one row per answer, one per
failed provider attempt. A reply without `usage` is counted with litellm's tokenizer and its
row marked `estimated`. A call is recorded when the provider answers, even if the agent that
asked is gone.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from pathlib import Path

import litellm

from dgm.fm import faults, replies
from dgm.fm.budget import Budget, BudgetKeeper
from dgm.fm.cache import ResponseCache, canonical_key
from dgm.fm.errors import (
    BudgetExceeded,
    CacheMiss,
    FMError,
    ProviderDown,
    ProviderError,
    RequestError,
)
from dgm.fm.server import MAX_BODY, MAX_CONNECTIONS, error_body
from dgm.fm.session import Session, SessionTags
from dgm.fm.sim import provider

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
litellm.suppress_debug_info = True
log = logging.getLogger(__name__)
logging.getLogger("dgm.fm").addHandler(logging.NullHandler())  # never Python's stderr fallback

SIM_PRICE_PER_TOKEN = (1e-6, 4e-6)
"""`sim`'s fake price in dollars per prompt and per completion token ($1 / $4 a million)."""


def validate_model(
    model: str, api_base: str | None = None, cost_unknown: str = "refuse",
    dollar_budget: float | None = None,
) -> None:  # fmt: skip
    """Raise FMError for a model litellm cannot route, one without a known price unless
    `cost_unknown == "ignore"`, and a dollar budget for a model without a price (it would
    never be reached: every call would cost $0)."""
    if cost_unknown not in ("refuse", "ignore"):
        raise FMError(f"cost_unknown must be 'refuse' or 'ignore', not {cost_unknown!r}")
    if provider.is_sim(model):
        return
    try:
        litellm.get_llm_provider(model, api_base=api_base)
    except Exception:  # noqa: BLE001 - litellm raises several kinds for this
        raise FMError(
            f"unknown model {model!r}: litellm has no provider for it "
            "(e.g. openai/gpt-4o-mini, anthropic/..., ollama/..., or sim)"
        ) from None
    if _priced(model):
        return
    if dollar_budget is not None:
        raise FMError(
            f"model {model!r} has no known price, so a dollar budget cannot be kept; use a "
            "token or call budget instead (budget.tokens / budget.calls, --budget-tokens)"
        )
    if cost_unknown == "refuse":
        raise FMError(
            f'model {model!r} has no known price; set cost_unknown = "ignore" (dgm eval: '
            "--cost-unknown ignore) to run it anyway, with a token or call budget"
        )


def _priced(model: str) -> bool:
    try:
        info = litellm.get_model_info(model)
    except Exception:  # noqa: BLE001
        return False
    return info.get("input_cost_per_token") is not None


class Gateway:
    """FM access for one run. See docs/contracts.md, "FM access"."""

    def __init__(
        self,
        model: str,
        api_base: str | None = None,
        ledger=None,
        budget: Budget | None = None,
        cache_dir=None,
        cache_mode: str = "off",
        seed: int = 0,
        cost_unknown: str = "refuse",
        sim_fault_rate: float = 0.45,
        sim_broken_weight: float = 0.15,
        sim_hack_weight: float = 0.0,
        timeout: float = 120,
        retries: int = 4,
        backoff: float = 1.0,
        max_retry_wait: float = 60.0,
        session_connections: int = MAX_CONNECTIONS,
        max_request_bytes: int = MAX_BODY,
        secrets: list[str] | None = None,
        log_path=None,
    ):
        budget = budget or Budget()
        validate_model(model, api_base, cost_unknown, budget.dollars)
        self.model, self.api_base, self.ledger = model, api_base, ledger
        self.seed, self.cost_unknown, self.sim_fault_rate = seed, cost_unknown, sim_fault_rate
        self.sim_broken_weight, self.sim_hack_weight = sim_broken_weight, sim_hack_weight
        self.timeout, self.backoff, self.max_retry_wait = timeout, backoff, max_retry_wait
        self.session_connections, self.max_request_bytes = session_connections, max_request_bytes
        self.is_sim = provider.is_sim(model)
        self.retries = 0 if self.is_sim else retries  # sim is deterministic: retrying is futile
        if self.is_sim:
            provider.register()
        self.litellm_model = provider.litellm_model(model)
        self.priced = self.is_sim or _priced(model)
        self.redact = faults.Redactor(secrets)
        self.cache = ResponseCache(cache_dir, cache_mode)
        calls, tokens, dollars = _spent(ledger)
        self.budget = BudgetKeeper(budget, dollars, calls, tokens)
        self._sessions: set[Session] = set()
        self._lock = threading.Lock()
        self._ledger_lock = threading.Lock()
        self._closed = False
        self._log_handler = None
        if log_path is not None:  # the run's log: dropped replies, connection errors
            Path(log_path).parent.mkdir(parents=True, exist_ok=True)
            self._log_handler = logging.FileHandler(log_path, encoding="utf-8")
            self._log_handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
            logger = logging.getLogger("dgm.fm")
            logger.addHandler(self._log_handler)
            logger.setLevel(logging.INFO)

    # -- public API ------------------------------------------------------------------------
    def session(self, tags: SessionTags, sim_context: dict | None = None,
                max_calls: int | None = None) -> Session:  # fmt: skip
        """Open a session (its socket serves at once); use it as a context manager.
        `max_calls` tightens the budget's per-session call cap for this one."""
        with self._lock:
            if self._closed:
                raise FMError("the FM gateway is closed")
            session = Session(self, tags, sim_context, max_calls)
            self._sessions.add(session)
        try:
            return session.open()
        except BaseException:
            self._forget(session)
            raise

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
        return self.timeout * (self.retries + 1) + self.max_retry_wait * self.retries + 5

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

    def _forget(self, session: Session) -> None:
        with self._lock:
            self._sessions.discard(session)

    # -- the call path ---------------------------------------------------------------------
    def handle_http(self, session: Session, body: bytes) -> tuple[int, bytes]:
        """Answer one HTTP request body from a session's socket: (status, response body)."""
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            message = f"request body is not valid JSON: {exc}"
            self._record(session, 0, 0, 0.0, False, 0.0, message)
            return 400, error_body(message, "invalid_request_error")
        try:
            return 200, self.serve(session, payload)
        except RequestError as exc:
            return 400, error_body(str(exc), "invalid_request_error")
        except BudgetExceeded as exc:
            return 402, error_body(str(exc), "insufficient_quota", "budget_exhausted")
        except CacheMiss as exc:
            return 409, error_body(str(exc), "cache_miss")
        except ProviderError as exc:
            return exc.status, error_body(self.redact(str(exc)), exc.kind)
        except Exception as exc:  # noqa: BLE001 - the agent gets an answer, the host a log
            log.exception("FM gateway failure")
            message = self.redact(f"gateway failure: {type(exc).__name__}: {exc}")
            return 500, error_body(message, "server_error")

    def serve(self, session: Session, payload) -> bytes:
        """Answer one request (a parsed chat-completions body) with a response body; every
        outcome writes the ledger: one row per answer or refusal, one per failed attempt."""
        session.call_started()
        try:
            return self._serve(session, payload, time.monotonic())
        finally:
            session.call_ended()

    def _serve(self, session: Session, payload, start: float) -> bytes:
        try:
            messages, tools, params = replies.parse_request(payload)
            index = session.next_index()
            key = None
            if self.cache.mode != "off":
                identity = {
                    "seed": self.seed, "node": session.tags.node, "task": session.tags.task,
                    "role": session.tags.role, "attempt": session.tags.attempt,
                }  # fmt: skip
                key = canonical_key(self.model, messages, tools, params, identity, index)
                cached = self.cache.get(key)
                if cached is not None:
                    self._answered(session, cached, 0.0, True, start)
                    return cached
                if self.cache.mode == "replay":
                    tags = session.tags
                    raise CacheMiss(
                        f"replay cache miss: node {tags.node}, task {tags.task}, role "
                        f"{tags.role}, attempt {tags.attempt}, call {index} (key {key[:16]})"
                    )
            guess = provider.estimate_tokens(messages) + provider.estimate_tokens(tools)
            held = self.budget.reserve(session.spend, guess, self._price(guess, 0))
            cost, settled = 0.0, False
            try:
                response = self._call_model(session, messages, tools, params, index)
                model = self.litellm_model
                prompt, completion, estimated = replies.usage(model, response, messages, tools)
                body = replies.body(self.model, response, prompt, completion, estimated)
                cost = self._price(prompt, completion)
                self.budget.settle(session.spend, cost, tokens=prompt + completion,
                                   reservation=held)  # fmt: skip
                settled = True
            finally:
                if not settled:
                    self.budget.settle(session.spend, 0.0, counted=False, reservation=held)
        except FMError as exc:
            if isinstance(exc, BudgetExceeded) and exc.scope == "run":
                session.mark_refused()
            if isinstance(exc, ProviderDown):
                session.mark_provider_fault(exc)
            if not getattr(exc, "recorded", False):
                error = self.redact(str(exc))
                self._record(session, 0, 0, 0.0, False, time.monotonic() - start, error)
            raise
        if key is not None:
            self.cache.put(key, body)
        self._answered(session, body, cost, False, start)
        return body

    def _call_model(self, session: Session, messages, tools, params, index: int):
        kwargs = dict(params, model=self.litellm_model, messages=messages, timeout=self.timeout)
        kwargs.update(num_retries=0, max_retries=0, drop_params=True)
        if tools is not None:
            kwargs["tools"] = tools
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self.is_sim:
            tags = session.tags
            kwargs["metadata"] = {
                provider.SIM_METADATA_KEY: {
                    "role": tags.role, "context": session.sim_context, "seed": self.seed,
                    "node": tags.node, "task": tags.task, "attempt": tags.attempt,
                    "call_index": index, "fault_rate": self.sim_fault_rate,
                    "broken_weight": self.sim_broken_weight,
                    "hack_weight": self.sim_hack_weight,
                }
            }  # fmt: skip
        attempt = 0
        while True:
            began = time.monotonic()
            try:
                return litellm.completion(**kwargs)
            except Exception as exc:  # noqa: BLE001 - sorted by kind below
                error = self._attempt_failed(session, exc, attempt, began)
                wait = faults.retry_wait(
                    attempt, self.backoff, self.max_retry_wait, faults.retry_after(exc),
                    random.uniform(0.5, 1.0),
                )  # fmt: skip
                # no one waits for a closed session's answer: stop retrying for it
                if attempt >= self.retries or session.closing:
                    raise error from None
            time.sleep(wait)
            attempt += 1

    def _attempt_failed(self, session, exc: BaseException, attempt: int, began: float):
        """Record one failed provider attempt; the error to raise if it is the last one
        (a non-transient error is raised at once)."""
        text = self.redact(faults.first_line(exc))
        what = faults.kind(exc)
        if what == "context":
            error = ProviderError(text, 400, "context_length_exceeded")
        elif what == "agent":
            error = ProviderError(text, 400, "invalid_request_error")
        elif what == "fatal":
            error = ProviderDown(
                f"the provider refused model {self.model!r}"
                + (f" at {self.api_base}" if self.api_base else "")
                + f": {text}",
                fatal=True,
            )
        else:
            tries = f" after {attempt + 1} attempts" if attempt else ""
            error = ProviderDown(f"model provider failed{tries}: {text}")
        error.recorded = True
        row = text if isinstance(error, ProviderDown) and not error.fatal else str(error)
        self._record(session, 0, 0, 0.0, False, time.monotonic() - began,
                     f"attempt {attempt + 1}: {row}")  # fmt: skip
        if what != "transient":
            raise error from None
        return error

    def _price(self, prompt: int, completion: int) -> float:
        if self.is_sim:
            # A fixed, documented fake price, so cost views and dollar budgets have
            # something to show offline. It says nothing about any real model.
            return prompt * SIM_PRICE_PER_TOKEN[0] + completion * SIM_PRICE_PER_TOKEN[1]
        if not self.priced:
            return 0.0  # allowed only with cost_unknown="ignore" and no dollar budget
        try:
            cost = litellm.cost_per_token(
                model=self.litellm_model, prompt_tokens=prompt, completion_tokens=completion
            )
        except Exception:  # noqa: BLE001
            return 0.0
        return float(sum(cost))

    def _answered(self, session: Session, body: bytes, cost: float, cached: bool, start) -> None:
        usage = json.loads(body).get("usage") or {}
        prompt, completion = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
        session.add(prompt + completion, cost)
        self._record(session, prompt, completion, cost, cached, time.monotonic() - start, None,
                     bool(usage.get("estimated")))  # fmt: skip

    def _record(self, session, prompt, completion, cost, cached, seconds, error,
                estimated=False) -> None:  # fmt: skip
        if self.ledger is None:
            return
        tags = session.tags
        extra = {"estimated": True} if estimated else {}
        with self._ledger_lock:  # the ledger may be one SQLite connection
            self.ledger.record_fm_call(
                session.id, tags.node, tags.task, tags.role, self.model, prompt, completion,
                cost, cached, seconds, error, **extra,
            )  # fmt: skip


def _spent(ledger) -> tuple[int, int, float]:
    """(calls, tokens, dollars) the run already spent: answered, uncached calls (failed
    attempts and cache hits take nothing from a budget)."""
    if ledger is None:
        return 0, 0, 0.0
    if hasattr(ledger, "fm_calls"):
        rows = [r for r in ledger.fm_calls() if r.error is None and not r.cached]
    elif hasattr(ledger, "rows"):
        rows = [r for r in ledger.rows if r.error is None and not r.cached]
    else:
        return 0, 0, 0.0
    tokens = sum(r.prompt_tokens + r.completion_tokens for r in rows)
    return len(rows), tokens, float(sum(r.cost for r in rows))
