"""The ledger interface the gateway writes to, and an in-memory ledger for tests and perf."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol


class Ledger(Protocol):
    """Anything that records FM calls (the archive provides this)."""

    def record_fm_call(
        self, session, node, task, role, model, prompt_tokens, completion_tokens, cost,
        cached, seconds, error=None, estimated=False,
    ) -> None: ...  # fmt: skip


@dataclass(frozen=True)
class FMCallRow:
    """One ledger row."""

    session: str
    node: int | None
    task: str | None
    role: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost: float
    cached: bool
    seconds: float
    error: str | None = None
    estimated: bool = False
    """The provider sent no usage: the tokens were counted by litellm's tokenizer."""


class MemoryLedger:
    """Keeps rows in a list; thread-safe. For tests, benchmarks and dry runs."""

    def __init__(self) -> None:
        self.rows: list[FMCallRow] = []
        self._lock = threading.Lock()

    def record_fm_call(
        self, session, node, task, role, model, prompt_tokens, completion_tokens, cost,
        cached, seconds, error=None, estimated=False,
    ) -> None:  # fmt: skip
        """Append one row."""
        row = FMCallRow(
            session, node, task, role, model, prompt_tokens, completion_tokens, cost, cached,
            seconds, error, estimated,
        )  # fmt: skip
        with self._lock:
            self.rows.append(row)

    def fm_totals(self, node: int | None = None) -> tuple[int, int, float]:
        """(calls, tokens, cost), like the archive's."""
        with self._lock:
            rows = [r for r in self.rows if node is None or r.node == node]
        tokens = sum(r.prompt_tokens + r.completion_tokens for r in rows)
        return len(rows), tokens, sum(r.cost for r in rows)
