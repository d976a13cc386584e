"""Calls to the model provider through `litellm.completion`: the only retry policy of the
FM path (honouring `Retry-After`), a ledger row per failed attempt, and provider failures
sorted into what the agent caused (400s) and what it did not (`ProviderDown`)."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import litellm

from dgm.fm import faults
from dgm.fm.accounts import Accounts
from dgm.fm.errors import ProviderDown, ProviderError
from dgm.fm.sim import provider

if TYPE_CHECKING:
    from dgm.fm.session import Session


@dataclass
class ProviderCalls:
    """How calls reach the provider: model, endpoint, timeouts and retries, and what `sim`
    is told (its fault rates and the run's seed)."""

    accounts: Accounts
    model: str
    api_base: str | None = None
    timeout: float = 120
    retries: int = 4
    backoff: float = 1.0
    max_retry_wait: float = 60.0
    seed: int = 0
    sim: dict[str, float] = field(default_factory=dict)  # fault_rate, broken/hack weights
    redact: faults.Redactor = field(default_factory=lambda: faults.Redactor(None))

    def __post_init__(self) -> None:
        if self.accounts.is_sim:
            self.retries = 0  # sim is deterministic: retrying is futile
            provider.register()

    def deadline(self) -> float:
        """The longest one call can stay at the provider, retries and waits included."""
        return self.timeout * (self.retries + 1) + self.max_retry_wait * self.retries + 5

    def call(self, session: Session, messages: list, tools: list | None,
             params: dict[str, Any], index: int):  # fmt: skip
        """The provider's response, or the error of the last attempt."""
        kwargs = dict(
            params,
            model=self.accounts.litellm_model,
            messages=messages,
            timeout=self.timeout,
            num_retries=0,
            max_retries=0,
            drop_params=True,
        )
        if tools is not None:
            kwargs["tools"] = tools
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self.accounts.is_sim:
            tags = session.tags
            kwargs["metadata"] = {
                provider.SIM_METADATA_KEY: {
                    "role": tags.role, "context": session.sim_context, "seed": self.seed,
                    "node": tags.node, "task": tags.task, "attempt": tags.attempt,
                    "call_index": index, **self.sim,
                }
            }  # fmt: skip
        attempt = 0
        while True:
            began = time.monotonic()
            try:
                return litellm.completion(**kwargs)
            except Exception as exc:  # noqa: BLE001 - sorted by kind below
                error = self._failed(session, exc, attempt, began)
                wait = faults.retry_wait(
                    attempt, self.backoff, self.max_retry_wait, faults.retry_after(exc),
                    random.uniform(0.5, 1.0),
                )  # fmt: skip
                # no one waits for a closed session's answer: stop retrying for it
                if attempt >= self.retries or session.closing:
                    raise error from None
            time.sleep(wait)
            attempt += 1

    def _failed(self, session: Session, exc: BaseException, attempt: int, began: float):
        """Record one failed attempt; the error to raise if it is the last one (a
        non-transient error is raised at once)."""
        text = self.redact(faults.first_line(exc))
        what = faults.kind(exc)
        if what == "context":
            error = ProviderError(text, 400, "context_length_exceeded")
        elif what == "agent":
            error = ProviderError(text, 400, "invalid_request_error")
        elif what == "fatal":
            where = f" at {self.api_base}" if self.api_base else ""
            error = ProviderDown(f"the provider refused model {self.model!r}{where}: {text}",
                                 fatal=True)  # fmt: skip
        else:
            tries = f" after {attempt + 1} attempts" if attempt else ""
            error = ProviderDown(f"model provider failed{tries}: {text}")
        error.recorded = True
        row = text if isinstance(error, ProviderDown) and not error.fatal else str(error)
        self.accounts.record(session, 0, 0, 0.0, False, time.monotonic() - began,
                             f"attempt {attempt + 1}: {row}")  # fmt: skip
        if what != "transient":
            raise error from None
        return error
