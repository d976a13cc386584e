"""The polyglot benchmark over a local checkout: every language it holds that dgm can run.

Task ids are `<language>/<exercise>`. Python exercises run in the default image; the other
languages in the `polyglot` image (`dgm sandbox build --profile polyglot`). Subsets: `small`
(10 exercises) and `medium` (40) take exercises in turn from each selected language, so a
subset spans the languages; `full` is all; `<language>` is one language whole and
`<language>-small` its first 10.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.base import BenchmarkError, GradeResult, Task, TestPlan
from benchmarks.grading import grade_in_sandbox
from benchmarks.polyglot import exercise as layout
from benchmarks.polyglot.languages import LANGUAGES, plan_for
from sandbox.image_polyglot import POLYGLOT_IMAGE

if TYPE_CHECKING:
    from sandbox import Sandbox

SUBSET_SIZES = {"small": 10, "medium": 40}
LANGUAGE_SMALL = 10
# Exercises whose tests cannot build or run in the polyglot image or within a sandbox's
# limits: left out, and said so by `skipped` (Debian is the image's only source of Java
# libraries).
UNSUPPORTED = {
    "java/hangman": "needs RxJava 2, which Debian does not package",
    "java/mazy-mice": "its tests use AssertJ 3.17's hasDimensions; Debian has AssertJ 3.14",
    "java/bank-account": "a test starts 1000 threads at once; a sandbox allows 256 processes",
    "cpp/bank-account": "a test starts 1000 threads at once; a sandbox allows 256 processes",
}


def _python_defaults(name: str):
    base = name.replace("-", "_")
    return ([f"{base}.py"], [f"{base}_test.py"], [".meta/example.py"])


DEFAULTS = {"python": _python_defaults}


class PolyglotBenchmark:
    """The exercises of a polyglot-benchmark checkout at `path`, in `languages` (a list or
    a comma-separated string; default: every supported language the checkout holds)."""

    name = "polyglot"

    def __init__(
        self,
        path: str | Path | None = None,
        sandbox_config=None,
        time_limit: float | None = None,
        languages: str | list[str] | tuple[str, ...] | None = None,
    ):
        if path is None:
            raise BenchmarkError(
                "polyglot needs a local checkout of the benchmark: give --benchmark-path DIR "
                "(`benchmark_path` in a run config; --path for dgm eval)"
            )
        self.root = Path(path).expanduser()
        if not self.root.is_dir():
            raise BenchmarkError(
                f"polyglot checkout not found: {self.root} (from --benchmark-path / benchmark_path)"
            )
        present = [lang for lang in LANGUAGES if (self.root / lang / "exercises").is_dir()]
        if not present:
            raise BenchmarkError(
                f"not a polyglot checkout (no <language>/exercises/practice): {self.root}"
            )
        if isinstance(languages, str):
            languages = [part.strip() for part in languages.split(",") if part.strip()]
        if languages:
            unknown = [lang for lang in languages if lang not in LANGUAGES]
            if unknown:
                raise BenchmarkError(
                    f"unknown polyglot language '{unknown[0]}' (choose {', '.join(LANGUAGES)})"
                )
            absent = [lang for lang in languages if lang not in present]
            if absent:
                raise BenchmarkError(f"the polyglot checkout {self.root} has no {absent[0]}")
            present = [lang for lang in LANGUAGES if lang in languages]
        self.languages = tuple(present)
        self.sandbox_config = sandbox_config
        self.time_limit = None if time_limit is None else float(time_limit)
        self.skipped: dict[str, str] = {}
        if not self._exercises:
            raise BenchmarkError(f"no exercises found under {self.root} ({', '.join(present)})")

    @cached_property
    def _exercises(self) -> dict[str, Path]:
        """Task id -> exercise directory, per language then by name, for every exercise
        with instructions."""
        found = {}
        for lang in self.languages:
            practice = self.root / lang / "exercises" / "practice"
            if not practice.is_dir():
                continue
            for exercise in sorted(practice.iterdir()):
                task_id = f"{lang}/{exercise.name}"
                if not (exercise / ".docs" / "instructions.md").is_file():
                    continue
                if task_id in UNSUPPORTED:
                    self.skipped[task_id] = UNSUPPORTED[task_id]
                    continue
                if not self._has_tests(exercise, lang):
                    # e.g. go/counter, where the student writes the tests: nothing to grade
                    self.skipped[task_id] = "its test files define no test"
                    continue
                found[task_id] = exercise
        return found

    @staticmethod
    def _has_tests(root: Path, lang: str) -> bool:
        try:
            return bool(plan_for(layout.load(root, lang, DEFAULTS.get(lang))).expected)
        except (BenchmarkError, OSError, UnicodeDecodeError):
            return True  # a malformed exercise stays listed: task() names its fault

    def subsets(self) -> dict[str, list[str]]:
        by_lang: dict[str, list[str]] = {lang: [] for lang in self.languages}
        for task_id in self._exercises:
            by_lang[task_id.split("/", 1)[0]].append(task_id)
        mixed = _round_robin(list(by_lang.values()))
        out = {name: mixed[:size] for name, size in SUBSET_SIZES.items()}
        out["full"] = list(self._exercises)
        for lang, ids in by_lang.items():
            if ids:
                out[lang] = ids
                out[f"{lang}-small"] = ids[:LANGUAGE_SMALL]
        return out

    def tasks(self, subset: str = "full") -> list[Task]:
        subsets = self.subsets()
        if subset not in subsets:
            names = ", ".join(subsets)
            raise BenchmarkError(f"unknown subset '{subset}' of polyglot (choose {names})")
        return [self.task(task_id) for task_id in subsets[subset]]

    def images(self) -> set[str | None]:
        """The sandbox images the selected languages need (None: the default image)."""
        return {None if lang == "python" else POLYGLOT_IMAGE for lang in self.languages}

    def prepare(self, console=None) -> None:
        """Build the images the selected languages need, when missing (with progress)."""
        if POLYGLOT_IMAGE in self.images():
            from sandbox.image import ensure_image

            ensure_image(console=console, profile="polyglot")

    def task(self, task_id: str) -> Task:
        root = self._exercises.get(task_id)
        if root is None:
            reason = self.skipped.get(task_id)
            why = f" (left out: {reason})" if reason else ""
            raise BenchmarkError(f"unknown polyglot task '{task_id}'{why}")
        lang = task_id.split("/", 1)[0]
        ex = layout.load(root, lang, DEFAULTS.get(lang))
        plan = plan_for(ex)
        files = ex.workspace()
        for rel in (*ex.solution, *ex.test, *ex.editor):
            files.setdefault(rel, ex.read(rel))
        files.update(plan.hidden)  # the agent sees the tests as grading runs them
        editor = [rel for rel in ex.editor if rel not in ex.test]
        problem = (
            resources.files("benchmarks")
            .joinpath("templates", "polyglot_problem.md")
            .read_text()
            .format(
                title=ex.name.replace("-", " ").title(),
                language=lang,
                stub=_names(ex.solution),
                test_file=_names(ex.test),
                editor=f" ({_names(editor)} support them)" if editor else "",
                keep=f" or {_names(editor)}" if editor else "",
                instructions=ex.instructions(),
                check=plan.check,
            )
        )
        limit = plan.time_limit if self.time_limit is None else max(self.time_limit, 1.0)
        if lang == "python":
            test_plan = TestPlan(kind="unittest", expected=plan.expected, test_dirs=())
        else:
            test_plan = TestPlan(
                kind="command",
                expected=plan.expected,
                report_format=plan.report_format,
                report_path=plan.report_path,
                test_dirs=plan.test_dirs,
            )
        return Task(
            id=task_id,
            benchmark=self.name,
            problem=problem,
            files=files,
            hidden_tests=plan.hidden,
            grade_command=plan.grade,
            visible_check=plan.check,
            reference=ex.reference() or None,
            time_limit=limit,
            meta={"exercise": ex.name, "language": lang},
            plan=test_plan,
            image=None if lang == "python" else POLYGLOT_IMAGE,
        )

    def grade(
        self, task: Task, result_dir: Path, labels: dict[str, str] | None = None,
        sandbox: Sandbox | None = None, deleted: Sequence[str] = (),
    ) -> GradeResult:  # fmt: skip
        """Restore the tests over the agent's files and run them in a clean sandbox of the
        task's image."""
        return grade_in_sandbox(
            task,
            result_dir,
            config=self.sandbox_config,
            labels=labels,
            sandbox=sandbox,
            deleted=deleted,
        )


def _names(paths) -> str:
    return ", ".join(f"`{p}`" for p in paths)


def _round_robin(groups: list[list[str]]) -> list[str]:
    out: list[str] = []
    for i in range(max((len(g) for g in groups), default=0)):
        out.extend(g[i] for g in groups if i < len(g))
    return out
