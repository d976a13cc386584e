"""What a run's model calls cost and where they are written: the model's price, the budget
keeper, and the ledger (one row per answer or refusal, one per failed provider attempt)."""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING

import litellm

from dgm.fm.budget import Budget, BudgetKeeper
from dgm.fm.errors import FMError
from dgm.fm.ledger import Ledger
from dgm.fm.sim import provider

if TYPE_CHECKING:
    from dgm.fm.session import Session

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
    if priced(model):
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


def priced(model: str) -> bool:
    """Whether litellm's local price table knows the model."""
    try:
        info = litellm.get_model_info(model)
    except Exception:  # noqa: BLE001
        return False
    return info.get("input_cost_per_token") is not None


class Accounts:
    """Prices calls, keeps the budgets (starting from what the ledger says the run already
    spent) and writes the ledger; thread-safe."""

    def __init__(self, model: str, ledger: Ledger | None, budget: Budget):
        self.model, self.ledger = model, ledger
        self.is_sim = provider.is_sim(model)
        self.litellm_model = provider.litellm_model(model)
        self.priced = self.is_sim or priced(model)
        calls, tokens, dollars = spent(ledger)
        self.budget = BudgetKeeper(budget, dollars, calls, tokens)
        self._lock = threading.Lock()  # the ledger may be one SQLite connection

    def price(self, prompt: int, completion: int) -> float:
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

    def answered(self, session: Session, body: bytes, cost: float, cached: bool,
                 start: float) -> None:  # fmt: skip
        """Charge an answer to its session and write its row."""
        usage = json.loads(body).get("usage") or {}
        prompt, completion = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
        session.add(prompt + completion, cost)
        self.record(session, prompt, completion, cost, cached, time.monotonic() - start, None,
                    bool(usage.get("estimated")))  # fmt: skip

    def record(self, session: Session, prompt: int, completion: int, cost: float, cached: bool,
               seconds: float, error: str | None, estimated: bool = False) -> None:  # fmt: skip
        """Write one ledger row charged to the session's tags."""
        if self.ledger is None:
            return
        tags = session.tags
        with self._lock:
            self.ledger.record_fm_call(
                session.id, tags.node, tags.task, tags.role, self.model, prompt, completion,
                cost, cached, seconds, error, estimated=estimated,
            )  # fmt: skip


def spent(ledger: Ledger | None) -> tuple[int, int, float]:
    """(calls, tokens, dollars) the run already spent: answered, uncached calls (failed
    attempts and cache hits take nothing from a budget)."""
    if ledger is None:
        return 0, 0, 0.0
    rows = [r for r in ledger.fm_calls() if r.error is None and not r.cached]
    tokens = sum(r.prompt_tokens + r.completion_tokens for r in rows)
    return len(rows), tokens, float(sum(r.cost for r in rows))
