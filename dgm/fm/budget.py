"""Run and session budgets in dollars, tokens and calls, checked before each FM call."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from dgm.fm.errors import BudgetExceeded


@dataclass(frozen=True)
class Budget:
    """Limits; None means unlimited. `session_*` apply to each session separately."""

    dollars: float | None = None
    calls: int | None = None
    tokens: int | None = None
    session_dollars: float | None = None
    session_calls: int | None = None
    session_tokens: int | None = None


class Spend:
    """Money, tokens and calls used by one scope (the run, or one session); thread-safe."""

    def __init__(self, dollars: float = 0.0, calls: int = 0, tokens: int = 0,
                 max_calls: int | None = None):  # fmt: skip
        self.dollars, self.calls, self.tokens = dollars, calls, tokens
        self.max_calls = max_calls  # a tighter call cap for this scope (a smoke run)
        # Reserved but not yet settled, so concurrent calls cannot overshoot: calls, and the
        # prompt's estimated tokens and dollars (what a call costs at least).
        self.in_flight = 0
        self.in_flight_tokens = 0
        self.in_flight_dollars = 0.0
        self.lock = threading.Lock()


@dataclass(frozen=True)
class Reservation:
    """What `reserve` counted in flight, released by `settle`."""

    tokens: int = 0
    dollars: float = 0.0


class BudgetKeeper:
    """Reserves a call against the run and the session before it is made, settles its cost
    afterwards. A reservation holds the prompt's estimated tokens and price, so forty
    parallel calls with huge prompts cannot all pass a check made before any of them is
    charged. What a reply costs is known only afterwards: a limit can be passed by the
    calls in flight when it is reached, never by a call made after."""

    def __init__(
        self, budget: Budget, spent_dollars: float = 0.0, spent_calls: int = 0,
        spent_tokens: int = 0,
    ):  # fmt: skip
        self.budget = budget
        self.run = Spend(spent_dollars, spent_calls, spent_tokens)

    def reserve(self, session: Spend, tokens: int = 0, dollars: float = 0.0) -> Reservation:
        """Count one call in flight, or raise BudgetExceeded."""
        b = self.budget
        with self.run.lock, session.lock:
            _check("run", self.run, b.dollars, b.calls, b.tokens)
            calls = _tighter(b.session_calls, session.max_calls)
            _check("session", session, b.session_dollars, calls, b.session_tokens)
            for scope in (self.run, session):
                scope.in_flight += 1
                scope.in_flight_tokens += tokens
                scope.in_flight_dollars += dollars
        return Reservation(tokens, dollars)

    def settle(
        self, session: Spend, cost: float, counted: bool = True, tokens: int = 0,
        reservation: Reservation | None = None,
    ) -> None:  # fmt: skip
        """Turn a reservation into a spent call (`counted`) or release it."""
        reservation = reservation or Reservation()
        for scope in (self.run, session):
            with scope.lock:
                scope.in_flight -= 1
                scope.in_flight_tokens -= reservation.tokens
                scope.in_flight_dollars -= reservation.dollars
                if counted:
                    scope.calls += 1
                    scope.dollars += cost
                    scope.tokens += tokens

    @property
    def exhausted(self) -> bool:
        """True once the run budget refuses every further call."""
        b, run = self.budget, self.run
        with run.lock:
            return (
                (b.dollars is not None and run.dollars >= b.dollars)
                or (b.calls is not None and run.calls >= b.calls)
                or (b.tokens is not None and run.tokens >= b.tokens)
            )


def _tighter(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _check(scope: str, spend: Spend, dollars: float | None, calls: int | None,
           tokens: int | None) -> None:  # fmt: skip
    """Raise BudgetExceeded when a limit is reached by what is spent plus what is in flight
    (so the run's budget is `exhausted` exactly when it refuses every call)."""
    if dollars is not None and spend.dollars + spend.in_flight_dollars >= dollars:
        raise BudgetExceeded(
            f"{scope} FM budget exhausted: ${spend.dollars:.4f} of ${dollars:.4f} spent"
            + (f" (${spend.in_flight_dollars:.4f} in flight)" if spend.in_flight else ""),
            scope,
        )
    if calls is not None and spend.calls + spend.in_flight >= calls:
        allowed = f"{calls} call" + ("s" if calls != 1 else "")
        raise BudgetExceeded(f"{scope} FM call budget exhausted: {allowed} allowed", scope)
    if tokens is not None and spend.tokens + spend.in_flight_tokens >= tokens:
        raise BudgetExceeded(
            f"{scope} FM token budget exhausted: {spend.tokens} of {tokens} tokens used"
            + (f" ({spend.in_flight_tokens} in flight)" if spend.in_flight else ""),
            scope,
        )
