"""Run and session budgets in dollars and in calls, checked before each FM call."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from dgm.fm.errors import BudgetExceeded


@dataclass(frozen=True)
class Budget:
    """Limits; None means unlimited. `session_*` apply to each session separately."""

    dollars: float | None = None
    calls: int | None = None
    session_dollars: float | None = None
    session_calls: int | None = None


class Spend:
    """Money and calls used by one scope (the run, or one session); thread-safe."""

    def __init__(self, dollars: float = 0.0, calls: int = 0):
        self.dollars, self.calls = dollars, calls
        self.in_flight = 0  # reserved but not yet settled, so concurrent calls cannot overshoot
        self.lock = threading.Lock()


class BudgetKeeper:
    """Reserves a call against the run and the session before it is made, settles its cost
    afterwards. Dollars cannot be known in advance, so a dollar budget refuses the first call
    made after the spend reached the limit."""

    def __init__(self, budget: Budget, spent_dollars: float = 0.0, spent_calls: int = 0):
        self.budget = budget
        self.run = Spend(spent_dollars, spent_calls)

    def reserve(self, session: Spend) -> None:
        """Count one call in flight, or raise BudgetExceeded."""
        b = self.budget
        with self.run.lock, session.lock:
            _check("run", self.run, b.dollars, b.calls)
            _check("session", session, b.session_dollars, b.session_calls)
            self.run.in_flight += 1
            session.in_flight += 1

    def settle(self, session: Spend, cost: float, counted: bool = True) -> None:
        """Turn a reservation into a spent call (`counted`) or release it."""
        for scope in (self.run, session):
            with scope.lock:
                scope.in_flight -= 1
                if counted:
                    scope.calls += 1
                    scope.dollars += cost

    @property
    def exhausted(self) -> bool:
        """True once the run budget refuses every further call."""
        b, run = self.budget, self.run
        with run.lock:
            return (b.dollars is not None and run.dollars >= b.dollars) or (
                b.calls is not None and run.calls >= b.calls
            )


def _check(scope: str, spend: Spend, dollars: float | None, calls: int | None) -> None:
    if dollars is not None and spend.dollars >= dollars:
        raise BudgetExceeded(
            f"{scope} FM budget exhausted: ${spend.dollars:.4f} of ${dollars:.4f} spent", scope
        )
    if calls is not None and spend.calls + spend.in_flight >= calls:
        raise BudgetExceeded(f"{scope} FM call budget exhausted: {calls} calls allowed", scope)
