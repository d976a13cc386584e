"""The ledger the gateway writes to (the archive is one), and an in-memory ledger for tests,
`dgm eval` and benchmarks. One row type for both: the archive's `FMCall`."""

from __future__ import annotations

import itertools
import threading
import time

from archive import FMCall
from dgm.protocols import Ledger

__all__ = ["Ledger", "MemoryLedger"]


class MemoryLedger:
    """Keeps rows in a list; thread-safe."""

    def __init__(self) -> None:
        self.rows: list[FMCall] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def record_fm_call(
        self, session: str, node: int | None, task: str | None, role: str, model: str,
        prompt_tokens: int, completion_tokens: int, cost: float, cached: bool,
        seconds: float, error: str | None = None, estimated: bool = False,
    ) -> None:  # fmt: skip
        """Append one row."""
        with self._lock:
            self.rows.append(FMCall(
                next(self._ids), session, node, task, role, model, prompt_tokens,
                completion_tokens, cost, cached, seconds, error, time.time(), estimated,
            ))  # fmt: skip

    def fm_calls(self, node: int | None = None) -> list[FMCall]:
        """The rows, oldest first, like the archive's."""
        with self._lock:
            return [r for r in self.rows if node is None or r.node == node]

    def fm_totals(self, node: int | None = None) -> tuple[int, int, float]:
        """(calls, tokens, cost), like the archive's."""
        rows = self.fm_calls(node)
        tokens = sum(r.prompt_tokens + r.completion_tokens for r in rows)
        return len(rows), tokens, sum(r.cost for r in rows)
