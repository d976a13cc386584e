"""The plain records the archive hands out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATUSES = ("pending", "valid", "invalid")
OUTCOMES = ("resolved", "unresolved", "empty", "error")
SUCCESS = "resolved"


@dataclass(frozen=True)
class Stats:
    """Successes and trials: every outcome is a trial, `resolved` is a success."""

    successes: int = 0
    trials: int = 0

    @property
    def failures(self) -> int:
        return self.trials - self.successes

    @property
    def rate(self) -> float | None:
        """The success rate, or None before any trial."""
        return self.successes / self.trials if self.trials else None

    def __str__(self) -> str:
        return f"{self.successes}/{self.trials}"


@dataclass(frozen=True)
class Node:
    """One agent: a commit in the archive's repository plus what the loop knew about it.

    `diffstat` is (files changed, lines added, lines removed) against the parent, or None
    until `Archive.diffstats()` has computed it (it is filled lazily, in bulk)."""

    id: int
    commit: str
    parent: int | None
    created: float
    entry: str | None
    problem_statement: str | None
    status: str
    reason: str | None
    meta: dict[str, Any] = field(default_factory=dict)
    diffstat: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class Evaluation:
    """One graded attempt of a node on a benchmark task."""

    id: int
    node: int
    benchmark: str
    task: str
    outcome: str
    tokens: int
    cost: float
    seconds: float
    log_path: str | None
    created: float

    @property
    def success(self) -> bool:
        return self.outcome == SUCCESS


@dataclass(frozen=True)
class Diff:
    """A unified diff between two nodes and its per-file (path, added, removed) counts."""

    text: str
    files: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def added(self) -> int:
        return sum(f[1] for f in self.files)

    @property
    def removed(self) -> int:
        return sum(f[2] for f in self.files)


@dataclass(frozen=True)
class Event:
    """One entry of the append-only event log."""

    id: int
    kind: str
    data: dict[str, Any]
    created: float


@dataclass(frozen=True)
class FMCall:
    """One foundation-model call as the gateway recorded it."""

    id: int
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
    error: str | None
    created: float
