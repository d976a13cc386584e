"""The benchmark contract: tasks, outcomes and the `Benchmark` protocol."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable


class BenchmarkError(Exception):
    """Unknown benchmark, subset or task; a malformed suite. One line, exit code 2."""

    exit_code = 2


class Outcome(StrEnum):
    """How one evaluation of one agent on one task ended."""

    RESOLVED = "resolved"  # the hidden tests pass
    UNRESOLVED = "unresolved"  # the agent changed something, the hidden tests fail
    EMPTY = "empty"  # the agent left the workspace unchanged
    ERROR = "error"  # the agent or the grading could not run to an answer


# Where the problem statement puts the visible check: a fenced block under this heading.
CHECK_HEADING = "## Checking your work"


@dataclass(frozen=True)
class Task:
    """One coding task. `hidden_tests` and `reference` never reach an agent's container."""

    id: str
    benchmark: str
    problem: str
    """The problem statement (Markdown) the agent reads; ends with a CHECK_HEADING section
    holding the visible check command when the task has one."""
    files: dict[str, str]
    """The workspace: relative path -> text, what the agent starts from."""
    hidden_tests: dict[str, str]
    """Relative path -> text, copied beside the agent's files only in the grading sandbox."""
    grade_command: Sequence[str]
    """Run in the grading sandbox with the working directory at the graded files; exit 0
    means resolved."""
    visible_check: str | None = None
    """A shell command the agent may run from its workspace to test its work."""
    reference: dict[str, str] | None = None
    """Files (relative path -> text) that resolve the task: used only by the `sim` model and
    by the suite's own self-test; never shown to an agent."""
    time_limit: float = 60.0
    """Seconds the hidden tests may take in the grading sandbox."""
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GradeResult:
    """The verdict of a clean-room grading."""

    outcome: Outcome
    output: str
    """The hidden tests' output (bounded), or the reason for an error."""
    seconds: float


@runtime_checkable
class Benchmark(Protocol):
    """A suite of tasks with named subsets and a grader."""

    name: str

    def subsets(self) -> dict[str, list[str]]:
        """Named subsets (at least `small`, `medium`, `full`) -> ordered task ids."""
        ...

    def tasks(self, subset: str = "full") -> list[Task]:
        """The tasks of a subset, in a stable order. Unknown subset: BenchmarkError."""
        ...

    def task(self, task_id: str) -> Task:
        """One task by id. Unknown id: BenchmarkError."""
        ...

    def grade(self, task: Task, result_dir: Path) -> GradeResult:
        """Grade the agent's resulting workspace `result_dir` in a fresh, clean sandbox
        holding only those files plus the hidden tests."""
        ...
