"""The benchmark contract: tasks, outcomes and the `Benchmark` protocol."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from rich.console import Console

    from sandbox import Sandbox


class BenchmarkError(Exception):
    """Unknown benchmark, subset or task; a malformed suite. One line, exit code 2."""

    exit_code = 2


class Outcome(StrEnum):
    """How one evaluation of one agent on one task ended."""

    RESOLVED = "resolved"  # the hidden tests pass
    UNRESOLVED = "unresolved"  # the agent changed something, the hidden tests fail
    EMPTY = "empty"  # the agent left the workspace unchanged
    ERROR = "error"  # the agent's own crash or misbehaviour (its workspace could not be graded)
    TAMPERED = "tampered"  # an attempt on the grader, with its evidence


# Where the problem statement puts the visible check: a fenced block under this heading.
CHECK_HEADING = "## Checking your work"


@dataclass(frozen=True)
class TestPlan:
    """How the trusted grading harness runs a task's hidden tests, and what it must see.

    kinds:
    - `call`: the hidden check runs in a process that never runs the agent's code; each call
      of the entry point goes to a child process and comes back as plain data (humaneval).
    - `unittest`: Python test modules (the hidden test files, by relative path) run in a
      guarded child process; per-test results come back signed over a private pipe.
    - `command`: `grade_command` runs in a child process; its per-test report (stdout, or
      the file `report_path`) is parsed on the host by `benchmarks.reports` parser
      `report_format`.

    Every test id in `expected` must be reported passed for `resolved`. The directories in
    `test_dirs` must hold exactly the hidden tests: anything else the agent put there is
    dropped and is evidence of tampering.
    """

    __test__ = False  # not a pytest class

    kind: str
    expected: tuple[str, ...] = ()
    report_format: str = ""
    report_path: str = ""
    test_dirs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Task:
    """One coding task. `hidden_tests` and `reference` never reach an agent's container."""

    id: str
    benchmark: str
    problem: str
    """The problem statement (Markdown) the agent reads; ends with a CHECK_HEADING section
    holding the visible check command when the task has one."""
    files: dict[str, str]
    """The workspace: relative path -> text, what the agent starts from (with `base_tree`:
    what the host adds over that tree)."""
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
    plan: TestPlan | None = None
    """How the grading harness runs the hidden tests (see TestPlan)."""
    image: str | None = None
    """The sandbox image the task is solved and graded in (None: the default image)."""
    base_tree: str | None = None
    """A directory inside `image` (root-owned, read-only to the sandbox user) that every
    solve and grading workspace starts from; then only the agent's delta against it travels
    between host and containers (`benchmarks.basetree`, docs/contracts.md)."""


@dataclass(frozen=True)
class GradeResult:
    """The verdict of a clean-room grading."""

    outcome: Outcome
    output: str
    """The hidden tests' output (bounded), or the reason for an error."""
    seconds: float
    tests: dict[str, str] = field(default_factory=dict)
    """Per-test results the trusted harness reported: test id -> pass / fail / error /
    skip / missing. Empty when the tests did not run (empty workspace, agent error)."""
    evidence: tuple[str, ...] = ()
    """With TAMPERED: what the grader saw (one line each)."""


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

    def grade(
        self, task: Task, result_dir: Path, labels: dict[str, str] | None = None,
        sandbox: Sandbox | None = None, deleted: Sequence[str] = (),
    ) -> GradeResult:  # fmt: skip
        """Grade the agent's resulting workspace `result_dir` (with a `base_tree`: its
        delta, and `deleted` the base files it removed) in a fresh, clean sandbox holding
        only those files plus the hidden tests. `labels` go on the grading container (a
        run's clean-up finds it by them); `sandbox` is a pre-started clean one to use."""
        ...

    def prepare(self, console: Console | None = None) -> None:
        """Build what the suite's tasks need before a run (images); idempotent."""
        ...
