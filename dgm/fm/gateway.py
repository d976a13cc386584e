"""The host-side FM gateway: every model call of a run goes through here.

Containers reach it through a per-session Unix socket (see `session.py`); host code calls
`Gateway.complete`. Each call is checked against the budget, answered from the cache or by
`litellm.completion` (with retries), priced with litellm's local price table, and written to
the ledger, errors included.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time

import litellm

from dgm.fm import provider
from dgm.fm.budget import Budget, BudgetKeeper
from dgm.fm.cache import ResponseCache, canonical_key
from dgm.fm.errors import BudgetExceeded, CacheMiss, FMError, ProviderError, RequestError
from dgm.fm.server import error_body
from dgm.fm.session import Session, SessionTags

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
litellm.suppress_debug_info = True
log = logging.getLogger(__name__)

# Request fields forwarded to the model (and part of the cache key); others are ignored.
SAMPLING_PARAMS = (
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed",
    "tool_choice", "parallel_tool_calls", "response_format", "presence_penalty",
    "frequency_penalty",
)  # fmt: skip
RETRYABLE = (
    litellm.RateLimitError,
    litellm.APIConnectionError,
    litellm.Timeout,
    litellm.ServiceUnavailableError,
    litellm.InternalServerError,
    litellm.BadGatewayError,
)


SIM_PRICE_PER_TOKEN = (1e-6, 4e-6)
"""`sim`'s fake price in dollars per prompt and per completion token ($1 / $4 a million)."""


def validate_model(model: str, api_base: str | None = None, cost_unknown: str = "refuse") -> None:
    """Raise FMError for a model litellm cannot route, or one without a known price unless
    `cost_unknown == "ignore"`."""
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
    if cost_unknown == "refuse" and not _priced(model):
        raise FMError(
            f'model {model!r} has no known price; set cost_unknown = "ignore" to run it anyway'
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
        timeout: float = 120,
        retries: int = 4,
        backoff: float = 1.0,
    ):
        validate_model(model, api_base, cost_unknown)
        self.model, self.api_base, self.ledger = model, api_base, ledger
        self.seed, self.cost_unknown, self.sim_fault_rate = seed, cost_unknown, sim_fault_rate
        self.sim_broken_weight = sim_broken_weight
        self.timeout, self.backoff = timeout, backoff
        self.is_sim = provider.is_sim(model)
        self.retries = 0 if self.is_sim else retries  # sim is deterministic: retrying is futile
        if self.is_sim:
            provider.register()
        self.litellm_model = provider.litellm_model(model)
        self.cache = ResponseCache(cache_dir, cache_mode)
        calls, _, dollars = ledger.fm_totals() if hasattr(ledger, "fm_totals") else (0, 0, 0.0)
        self.budget = BudgetKeeper(budget or Budget(), spent_dollars=dollars, spent_calls=calls)
        self._sessions: set[Session] = set()
        self._lock = threading.Lock()
        self._ledger_lock = threading.Lock()
        self._closed = False

    # -- public API ------------------------------------------------------------------------
    def session(self, tags: SessionTags, sim_context: dict | None = None) -> Session:
        """Open a session (its socket serves at once); use it as a context manager."""
        with self._lock:
            if self._closed:
                raise FMError("the FM gateway is closed")
            session = Session(self, tags, sim_context)
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

    def close(self) -> None:
        """Close every open session; later `session()` calls fail."""
        with self._lock:
            self._closed = True
            sessions = list(self._sessions)
        for session in sessions:
            session.close()

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
            return exc.status, error_body(str(exc), exc.kind)
        except Exception as exc:  # noqa: BLE001 - the agent gets an answer, the host a log
            log.exception("FM gateway failure")
            return 500, error_body(f"gateway failure: {type(exc).__name__}: {exc}", "server_error")

    def serve(self, session: Session, payload) -> bytes:
        """Answer one request (a parsed chat-completions body) with a response body; every
        outcome, error or not, writes one ledger row."""
        start = time.monotonic()
        try:
            messages, tools, params = _parse(payload)
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
            self.budget.reserve(session.spend)
            cost, settled = 0.0, False
            try:
                response = self._call_model(session, messages, tools, params, index)
                body, cost = self._body(response), self._cost(response)
                self.budget.settle(session.spend, cost)
                settled = True
            finally:
                if not settled:
                    self.budget.settle(session.spend, 0.0, counted=False)
        except FMError as exc:
            if isinstance(exc, BudgetExceeded) and exc.scope == "run":
                session.mark_refused()
            self._record(session, 0, 0, 0.0, False, time.monotonic() - start, str(exc))
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
                }
            }  # fmt: skip
        for attempt in range(self.retries + 1):
            try:
                return litellm.completion(**kwargs)
            except litellm.ContextWindowExceededError as exc:
                raise ProviderError(_line(exc), 400, "context_length_exceeded") from None
            except RETRYABLE as exc:
                if attempt == self.retries:
                    tries = f" after {attempt + 1} attempts" if attempt else ""
                    raise ProviderError(f"model provider failed{tries}: {_line(exc)}") from None
                time.sleep(self.backoff * 2**attempt * random.uniform(0.5, 1.0))
            except (litellm.BadRequestError, litellm.UnprocessableEntityError) as exc:
                raise ProviderError(_line(exc), 400, "invalid_request_error") from None
            except Exception as exc:  # noqa: BLE001 - auth, not found, provider bugs
                raise ProviderError(f"model provider failed: {_line(exc)}") from None
        raise AssertionError("unreachable")

    def _body(self, response) -> bytes:
        """The OpenAI response document sent back (and cached), from litellm's response."""
        choice = response.choices[0]
        msg = choice.message
        tool_calls = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.function.name, "arguments": call.function.arguments},
            }
            for call in (msg.tool_calls or [])
        ]
        usage = response.usage
        doc = {
            "id": response.id,
            "object": "chat.completion",
            "created": response.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": msg.content,
                        "tool_calls": tool_calls or None,
                    },
                    "finish_reason": choice.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.prompt_tokens + usage.completion_tokens,
            },
        }
        return json.dumps(doc, ensure_ascii=False).encode()

    def _cost(self, response) -> float:
        usage = response.usage
        if self.is_sim:
            # A fixed, documented fake price, so cost views and dollar budgets have
            # something to show offline. It says nothing about any real model.
            return (
                usage.prompt_tokens * SIM_PRICE_PER_TOKEN[0]
                + usage.completion_tokens * SIM_PRICE_PER_TOKEN[1]
            )
        try:
            prompt, completion = litellm.cost_per_token(
                model=self.litellm_model,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
            )
        except Exception:  # noqa: BLE001 - unpriced: allowed only with cost_unknown="ignore"
            return 0.0
        return float(prompt + completion)

    def _answered(self, session: Session, body: bytes, cost: float, cached: bool, start) -> None:
        usage = json.loads(body).get("usage") or {}
        prompt, completion = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
        session.add(prompt + completion, cost)
        self._record(session, prompt, completion, cost, cached, time.monotonic() - start, None)

    def _record(self, session, prompt, completion, cost, cached, seconds, error) -> None:
        if self.ledger is None:
            return
        tags = session.tags
        with self._ledger_lock:  # the ledger may be one SQLite connection
            self.ledger.record_fm_call(
                session.id, tags.node, tags.task, tags.role, self.model, prompt, completion,
                cost, cached, seconds, error,
            )  # fmt: skip


def _parse(payload) -> tuple[list, list | None, dict]:
    """(messages, tools, sampling params) of a request, or RequestError."""
    if not isinstance(payload, dict):
        raise RequestError("request body must be a JSON object")
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty list")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise RequestError(f"messages[{i}] must be an object with a 'role'")
    tools = payload.get("tools")
    if tools is not None and not (
        isinstance(tools, list) and all(isinstance(t, dict) for t in tools)
    ):
        raise RequestError("'tools' must be a list of objects")
    if payload.get("stream"):
        raise RequestError("streaming is not supported by the FM gateway")
    params = {k: payload[k] for k in SAMPLING_PARAMS if payload.get(k) is not None}
    return messages, tools or None, params


def _line(exc: BaseException) -> str:
    """The first line of an exception's message, without litellm's prefixes."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:500]
