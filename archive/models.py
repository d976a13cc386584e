"""The plain records the archive hands out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

STATUSES = ("pending", "valid", "invalid")
OUTCOMES = ("resolved", "unresolved", "empty", "error", "tampered")
SUCCESS = "resolved"
TAMPERED = "tampered"
# A node's quarantine: None (never quarantined), `quarantined` (automatic), `waiting` (for a
# person's decision), `approved` (a parent again), `rejected` (kept out for good).
QUARANTINES = ("quarantined", "waiting", "approved", "rejected")
HELD = ("quarantined", "waiting", "rejected")  # the states that keep a node from being a parent
QUARANTINE_MODES = ("off", "auto", "manual")


class Stats(NamedTuple):
    """Successes and trials: every outcome is a trial, `resolved` is a success (so
    `tampered` is a failure). `tampered` counts the tampered trials; `bad_nodes` the invalid
    or quarantined nodes (own stats: the node itself, 0 or 1; clade stats: the node and its
    descendants), which a policy may count as failures of the clade (hgm's
    `invalid_child_failures`). A named tuple: made in bulk for every node by the views, and
    cheaper to build than a frozen dataclass."""

    successes: int = 0
    trials: int = 0
    tampered: int = 0
    bad_nodes: int = 0

    @property
    def tamper_rate(self) -> float | None:
        """Tampered / evaluations, or None before any trial."""
        return self.tampered / self.trials if self.trials else None

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
    quarantine: str | None = None

    @property
    def held(self) -> bool:
        """Quarantined and not approved: never a parent."""
        return self.quarantine in HELD


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
    reason: str | None = None  # why this outcome (a tampered one: the grader's evidence)

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
    estimated: bool = False
    """The provider sent no usage: dgm counted the tokens (litellm's tokenizer)."""
