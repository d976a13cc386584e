"""The `bugfix` suite: small multi-file Python repositories, each with a user's issue text,
visible tests, hidden tests that expose the bug and a reference fix.

A task is a directory under `benchmarks/bugfix/tasks/<name>/`:

- `task.toml`: `id = "bugfix/<name>"`, `kinds` (what sort of bug), `time_limit` (seconds the
  hidden tests may take) and `subsets` (which of `small` / `medium` it belongs to);
- `issue.md`: the issue as a user filed it;
- `repo/`: the buggy repository the agent starts from, with visible tests under `tests/`;
- `hidden/`: the hidden tests (under `tests_hidden/`): unittest modules the grading harness
  runs (it reads them from its stdin, never from the graded workspace); `tests_hidden/` must
  hold exactly these, so a file the agent puts there is evidence of tampering;
- `reference/`: the fixed versions of the files the fix changes, same paths as in `repo/`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.base import CHECK_HEADING, BenchmarkError, GradeResult, Task, TestPlan
from benchmarks.testids import unittest_ids

if TYPE_CHECKING:
    from rich.console import Console

    from sandbox import Sandbox

TASKS_DIR = Path(__file__).parent / "bugfix" / "tasks"
TEMPLATE = Path(__file__).parent / "templates" / "bugfix_problem.md"
VISIBLE_CHECK = "python3 -m unittest discover -s tests -t ."
HIDDEN_DIR = "tests_hidden"
SUBSET_NAMES = ("small", "medium", "full")
# Files that are build debris, never part of a task.
_SKIPPED_PARTS = {"__pycache__", ".pytest_cache", ".git"}
_SKIPPED_SUFFIXES = {".pyc", ".pyo"}


class BugfixBenchmark:
    """The `bugfix` suite, read from a tasks directory (the packaged one by default)."""

    name = "bugfix"

    def __init__(self, path: Path | str | None = None) -> None:
        self.tasks_dir = Path(path) if path is not None else TASKS_DIR
        if not self.tasks_dir.is_dir():
            raise BenchmarkError(f"bugfix tasks directory not found: {self.tasks_dir}")
        self._tasks: dict[str, Task] | None = None
        self._subsets: dict[str, list[str]] | None = None

    # -- loading -------------------------------------------------------------------------
    def _load(self) -> dict[str, Task]:
        if self._tasks is None:
            tasks: dict[str, Task] = {}
            hints: dict[str, list[str]] = {}
            for task_dir in sorted(p for p in self.tasks_dir.iterdir() if p.is_dir()):
                if task_dir.name.startswith((".", "_")):
                    continue
                task, subsets = load_task(task_dir)
                tasks[task.id] = task
                hints[task.id] = subsets
            if not tasks:
                raise BenchmarkError(f"no bugfix tasks in {self.tasks_dir}")
            self._tasks = tasks
            self._subsets = _build_subsets(hints)
        return self._tasks

    # -- the Benchmark protocol ----------------------------------------------------------
    def subsets(self) -> dict[str, list[str]]:
        """`small` and `medium` from the tasks' subset hints (small is inside medium);
        `full` is every task. Each list is sorted by task id."""
        self._load()
        assert self._subsets is not None
        return {name: list(ids) for name, ids in self._subsets.items()}

    def tasks(self, subset: str = "full") -> list[Task]:
        """The tasks of `subset` in a stable order. Unknown subset: BenchmarkError."""
        tasks = self._load()
        subsets = self.subsets()
        if subset not in subsets:
            raise BenchmarkError(
                f"unknown bugfix subset {subset!r} (known: {', '.join(SUBSET_NAMES)})"
            )
        return [tasks[task_id] for task_id in subsets[subset]]

    def task(self, task_id: str) -> Task:
        """One task by id (`bugfix/<name>`; the bare `<name>` is accepted too)."""
        tasks = self._load()
        if task_id in tasks:
            return tasks[task_id]
        if f"bugfix/{task_id}" in tasks:
            return tasks[f"bugfix/{task_id}"]
        raise BenchmarkError(f"unknown bugfix task {task_id!r}")

    def prepare(self, console: Console | None = None) -> None:
        """Nothing to build: the default sandbox image serves every task."""

    def grade(
        self, task: Task, result_dir: Path, labels: dict[str, str] | None = None,
        sandbox: Sandbox | None = None, deleted: Sequence[str] = (),
    ) -> GradeResult:  # fmt: skip
        """Run the hidden tests against the agent's files in a clean sandbox."""
        # Imported here: grading needs `sandbox` (Docker), loading tasks does not.
        from benchmarks.grading import grade_in_sandbox

        return grade_in_sandbox(task, Path(result_dir), labels=labels, sandbox=sandbox,
                                deleted=deleted)  # fmt: skip


def load_task(task_dir: Path) -> tuple[Task, list[str]]:
    """Read one task directory; return the task and its subset hints. Malformed: error."""
    name = task_dir.name
    for part in ("task.toml", "issue.md", "repo", "hidden", "reference"):
        if not (task_dir / part).exists():
            raise BenchmarkError(f"bugfix task {name}: missing {part}")
    try:
        spec = tomllib.loads((task_dir / "task.toml").read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise BenchmarkError(f"bugfix task {name}: bad task.toml: {exc}") from None
    task_id = spec.get("id", f"bugfix/{name}")
    if task_id != f"bugfix/{name}":
        raise BenchmarkError(f"bugfix task {name}: id {task_id!r} does not match its directory")
    subsets = list(spec.get("subsets", []))
    unknown = set(subsets) - {"small", "medium"}
    if unknown:
        raise BenchmarkError(f"bugfix task {name}: unknown subset hints {sorted(unknown)}")
    files = read_tree(task_dir / "repo")
    hidden = read_tree(task_dir / "hidden")
    reference = read_tree(task_dir / "reference")
    if not files or not hidden or not reference:
        raise BenchmarkError(f"bugfix task {name}: repo, hidden and reference must hold files")
    issue = (task_dir / "issue.md").read_text(encoding="utf-8").strip()
    check = spec.get("visible_check", VISIBLE_CHECK)
    modules = {
        rel: text
        for rel, text in hidden.items()
        if rel.startswith(f"{HIDDEN_DIR}/") and rel.rsplit("/", 1)[-1].startswith("test")
    }
    expected = unittest_ids(modules)
    if not expected:
        raise BenchmarkError(f"bugfix task {name}: no unittest tests under hidden/{HIDDEN_DIR}")
    kinds = list(spec.get("kinds", []))
    task = Task(
        id=task_id,
        benchmark="bugfix",
        problem=render_problem(issue, check),
        files=files,
        hidden_tests=hidden,
        grade_command=(),
        visible_check=check,
        reference=reference,
        time_limit=float(spec.get("time_limit", 60.0)),
        meta={
            "name": name,
            "title": str(spec.get("title", "")),
            "kinds": ",".join(kinds),
            "changed": ",".join(sorted(reference)),
        },
        plan=TestPlan(kind="unittest", expected=expected, test_dirs=(HIDDEN_DIR,)),
    )
    return task, subsets


def render_problem(issue: str, check: str) -> str:
    """The problem statement: the issue text, then the CHECK_HEADING section."""
    text = TEMPLATE.read_text(encoding="utf-8").format(issue=issue, check=check)
    if CHECK_HEADING not in text:  # the template and base.py must agree
        raise BenchmarkError(f"bugfix problem template lacks {CHECK_HEADING!r}")
    return text


def read_tree(root: Path) -> dict[str, str]:
    """Every text file under `root` as relative POSIX path -> text, skipping build debris."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or _SKIPPED_PARTS & set(rel.parts):
            continue
        if path.suffix in _SKIPPED_SUFFIXES:
            continue
        out[rel.as_posix()] = path.read_text(encoding="utf-8")
    return out


def _build_subsets(hints: dict[str, list[str]]) -> dict[str, list[str]]:
    """small ⊆ medium ⊆ full, each sorted by id (a task hinted `small` is in medium too)."""
    small = sorted(t for t, h in hints.items() if "small" in h)
    medium = sorted(t for t, h in hints.items() if "small" in h or "medium" in h)
    return {"small": small, "medium": medium, "full": sorted(hints)}
