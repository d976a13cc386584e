"""An adapter for a local checkout of the polyglot benchmark (its Python exercises).

Layout read, per exercise `python/exercises/practice/<name>/`: `.docs/instructions.md` (and
`.docs/instructions.append.md` when present), `.meta/config.json` naming the solution, test
and example files (by convention `<name_with_underscores>.py`, `<...>_test.py`,
`.meta/example.py` when the config is missing). Workspace: the stub and its tests (the agent
may read and run them, as in the original benchmark). Hidden tests: the same test files,
restored over whatever the agent left. Grading runs them with `unittest` (the sandbox image
holds only Python and git). Subsets: `small` the first 10 exercises by name, `medium` the
first 40, `full` all.
"""

from __future__ import annotations

import json
from functools import cached_property
from importlib import resources
from pathlib import Path

from benchmarks.base import BenchmarkError, GradeResult, Task
from benchmarks.grading import grade_in_sandbox

PRACTICE = Path("python", "exercises", "practice")
SUBSET_SIZES = {"small": 10, "medium": 40}


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


class PolyglotBenchmark:
    """The Python exercises of a polyglot-benchmark checkout at `path`."""

    name = "polyglot"

    def __init__(self, path: str | Path | None = None, sandbox_config=None, time_limit=60.0):
        if path is None:
            raise BenchmarkError("polyglot needs a local checkout: give its path (path=DIR)")
        self.root = Path(path).expanduser()
        if not self.root.is_dir():
            raise BenchmarkError(f"polyglot checkout not found: {self.root}")
        if not (self.root / PRACTICE).is_dir():
            raise BenchmarkError(f"not a polyglot checkout (no {PRACTICE}): {self.root}")
        self.sandbox_config = sandbox_config
        self.time_limit = float(time_limit)
        if not self._exercises:
            raise BenchmarkError(f"no Python exercises found under {self.root / PRACTICE}")

    @cached_property
    def _exercises(self) -> dict[str, Path]:
        """Task id -> exercise directory, for every exercise with instructions."""
        found = {}
        for exercise in sorted((self.root / PRACTICE).iterdir()):
            if (exercise / ".docs" / "instructions.md").is_file():
                found[f"python/{exercise.name}"] = exercise
        return found

    def subsets(self) -> dict[str, list[str]]:
        """`small` (first 10 by name), `medium` (first 40), `full` (all)."""
        ids = list(self._exercises)
        out = {name: ids[:size] for name, size in SUBSET_SIZES.items()}
        out["full"] = ids
        return out

    def tasks(self, subset: str = "full") -> list[Task]:
        """The tasks of a subset; an unknown subset is a BenchmarkError."""
        subsets = self.subsets()
        if subset not in subsets:
            names = ", ".join(subsets)
            raise BenchmarkError(f"unknown subset '{subset}' of polyglot (choose {names})")
        return [self.task(task_id) for task_id in subsets[subset]]

    def task(self, task_id: str) -> Task:
        """One exercise as a Task; an unknown id or a malformed exercise is a BenchmarkError."""
        exercise = self._exercises.get(task_id)
        if exercise is None:
            raise BenchmarkError(f"unknown polyglot task '{task_id}'")
        solution, tests, example = self._file_names(exercise)
        missing = [f for f in (*solution, *tests, *example) if not (exercise / f).is_file()]
        if missing:
            raise BenchmarkError(f"polyglot exercise {exercise.name} lacks {missing[0]}")
        test_texts = {f: _read(exercise / f) for f in tests}
        modules = " ".join(Path(f).with_suffix("").as_posix().replace("/", ".") for f in tests)
        check = f"python3 -m unittest {modules}"
        instructions = _read(exercise / ".docs" / "instructions.md").strip()
        append = exercise / ".docs" / "instructions.append.md"
        if append.is_file():
            instructions += "\n\n" + _read(append).strip()
        problem = (
            resources.files("benchmarks")
            .joinpath("templates", "polyglot_problem.md")
            .read_text()
            .format(
                title=exercise.name.replace("-", " ").title(),
                stub=", ".join(solution),
                test_file=", ".join(tests),
                instructions=instructions,
                check=check,
            )
        )
        reference = dict(zip(solution, (_read(exercise / f) for f in example), strict=False))
        return Task(
            id=task_id,
            benchmark=self.name,
            problem=problem,
            files={**{f: _read(exercise / f) for f in solution}, **test_texts},
            hidden_tests=test_texts,
            grade_command=("python3", "-m", "unittest", *modules.split()),
            visible_check=check,
            reference={**{f: _read(exercise / f) for f in solution}, **reference} or None,
            time_limit=self.time_limit,
            meta={"exercise": exercise.name},
        )

    @staticmethod
    def _file_names(exercise: Path) -> tuple[list[str], list[str], list[str]]:
        """(solution, test, example) relative paths, from `.meta/config.json` or convention."""
        base = exercise.name.replace("-", "_")
        default = ([f"{base}.py"], [f"{base}_test.py"], [".meta/example.py"])
        config_path = exercise / ".meta" / "config.json"
        if not config_path.is_file():
            return default
        try:
            files = json.loads(_read(config_path)).get("files", {})
        except (json.JSONDecodeError, AttributeError):
            msg = f"polyglot exercise {exercise.name}: bad .meta/config.json"
            raise BenchmarkError(msg) from None
        return (
            list(files.get("solution") or default[0]),
            list(files.get("test") or default[1]),
            list(files.get("example") or default[2]),
        )

    def grade(
        self, task: Task, result_dir: Path, labels: dict[str, str] | None = None, sandbox=None
    ) -> GradeResult:
        """Restore the tests over the agent's files and run them in a clean sandbox."""
        return grade_in_sandbox(
            task, result_dir, config=self.sandbox_config, labels=labels, sandbox=sandbox
        )
