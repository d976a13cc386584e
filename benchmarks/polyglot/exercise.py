"""One exercise of a polyglot-benchmark checkout, read from the benchmark's own layout.

`<lang>/exercises/practice/<name>/.meta/config.json` names the files: `solution` (what the
agent completes), `test`, `example` (the reference, wherever `.meta` keeps it), `editor`
(files the agent may read but not change) and `invalidator` (build files that must stay as
shipped). The instructions are `.docs/introduction.md`, `.docs/instructions.md` and
`.docs/instructions.append.md`, in that order, as the benchmark's own harness joins them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from benchmarks.base import BenchmarkError

DOCS = (".docs/introduction.md", ".docs/instructions.md", ".docs/instructions.append.md")
# Files a workspace never gets: the gradle wrapper (binary, and gradle cannot run offline;
# grading compiles with javac and runs the JUnit console launcher).
NOT_IN_WORKSPACE = ("gradlew", "gradlew.bat")
MAX_FILE_BYTES = 2_000_000
# Reference files a track keeps beside the example without naming them in the config: the
# Rust track's example manifest (its crates) replaces the stub's.
EXAMPLE_EXTRAS = {"rust": {".meta/Cargo-example.toml": "Cargo.toml"}}


@dataclass(frozen=True)
class Exercise:
    language: str
    name: str
    root: Path
    solution: tuple[str, ...]
    test: tuple[str, ...]
    example: tuple[str, ...]
    editor: tuple[str, ...] = ()
    invalidator: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.language}/{self.name}"

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text(encoding="utf-8")

    def instructions(self) -> str:
        parts = [self.read(doc).strip() for doc in DOCS if (self.root / doc).is_file()]
        return "\n\n".join(p for p in parts if p)

    def workspace(self) -> dict[str, str]:
        """Every text file of the exercise outside its dot-directories (`.meta`, `.docs`):
        the stubs, the tests, editor and build files, as a student's download has them."""
        out: dict[str, str] = {}
        for path in sorted(self.root.rglob("*")):
            rel = path.relative_to(self.root)
            if not path.is_file() or path.is_symlink() or rel.parts[0].startswith("."):
                continue
            if rel.name in NOT_IN_WORKSPACE or rel.parts[:2] == ("gradle", "wrapper"):
                continue
            if path.stat().st_size > MAX_FILE_BYTES:
                continue
            try:
                out[rel.as_posix()] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue  # binary files cannot travel in a Task (text only)
        return out

    def reference(self) -> dict[str, str]:
        """The solution files with the examples put where the solution lives."""
        out = {rel: self.read(rel) for rel in self.solution}
        for rel, target in self.reference_paths().items():
            out[target] = self.read(rel)
        for rel, target in EXAMPLE_EXTRAS.get(self.language, {}).items():
            if (self.root / rel).is_file():
                out[target] = self.read(rel)
        return out

    def reference_paths(self) -> dict[str, str]:
        """Example path -> where it goes in the workspace: a solution or editor file of the
        same name, else the solution file of the same suffix (`.meta/example.cpp` ->
        `clock.cpp`), else beside the first solution file (an extra class of a Java
        reference)."""
        known = {PurePosixPath(p).name: p for p in (*self.editor, *self.solution)}
        taken: set[str] = set()
        out: dict[str, str] = {}
        for rel in self.example:
            name = PurePosixPath(rel).name
            suffix = PurePosixPath(rel).suffix
            target = known.get(name)
            if target is None and self._generic(name):
                same = [s for s in self.solution if s.endswith(suffix) and s not in taken]
                target = same[0] if same else None
            if target is None:
                first = next((s for s in self.solution if s.endswith(suffix)), None)
                folder = PurePosixPath(first or self.solution[0]).parent
                target = (folder / name).as_posix()
            taken.add(target)
            out[rel] = target
        return out

    @staticmethod
    def _generic(name: str) -> bool:
        """`example.cpp`, `proof.ci.js`, `example.rs`: a reference named by convention, not
        by the class or module it holds."""
        return name.split(".")[0] in {"example", "proof", "exemplar", "reference"}


def load(root: Path, language: str, defaults) -> Exercise:
    """The exercise at `root`; `defaults(name)` gives (solution, test, example) when the
    config is missing. A malformed exercise is a one-line BenchmarkError."""
    files: dict = {}
    config = root / ".meta" / "config.json"
    if config.is_file():
        try:
            files = json.loads(config.read_text(encoding="utf-8")).get("files") or {}
            if not isinstance(files, dict):
                raise TypeError
        except (ValueError, TypeError, AttributeError):
            raise BenchmarkError(
                f"polyglot exercise {language}/{root.name}: bad .meta/config.json"
            ) from None
    fallback = defaults(root.name) if defaults else ((), (), ())

    def names(key: str, index: int | None) -> tuple[str, ...]:
        value = files.get(key) or (fallback[index] if index is not None else ())
        if isinstance(value, str):
            value = [value]
        return tuple(str(v) for v in value if _safe(v))

    exercise = Exercise(
        language=language,
        name=root.name,
        root=root,
        solution=names("solution", 0),
        test=names("test", 1),
        example=names("example", 2),
        editor=names("editor", None),
        invalidator=names("invalidator", None),
    )
    if not exercise.solution or not exercise.test:
        raise BenchmarkError(f"polyglot exercise {exercise.id} names no solution or test files")
    for rel in (*exercise.solution, *exercise.test, *exercise.example, *exercise.editor):
        if not (root / rel).is_file():
            raise BenchmarkError(f"polyglot exercise {exercise.id} lacks {rel}")
    return exercise


def _safe(rel) -> bool:
    """A relative path inside the exercise (a config is data, not trusted to point out)."""
    path = PurePosixPath(str(rel))
    return bool(str(rel)) and not path.is_absolute() and ".." not in path.parts
