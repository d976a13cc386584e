"""The clean-room grader every suite uses.

The agent's resulting files are read on the host (regular files only: links and devices are
dropped), staged with the hidden tests on top (a hidden test overwrites a same-named agent
file), and copied into a fresh sandbox that has never seen the agent. The hidden tests run
there with the task's time limit; exit 0 is resolved. The agent's own container is never
asked for a verdict.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.base import GradeResult, Outcome, Task
from sandbox import Sandbox, SandboxConfig, SandboxError

# What a workspace may hold to be graded at all: beyond this it is the agent's misbehaviour.
MAX_FILES = 5_000
MAX_BYTES = 64 * 1024 * 1024
OUTPUT_LIMIT = 8_000
GRADER_FAILED = "grading could not run"  # how an error of the grader (not the agent) begins
# Files that appear by running code, not by the agent's intent.
IGNORED_PARTS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})


def workspace_files(root: Path) -> dict[str, Path]:
    """Relative path -> host path of every regular file under `root` (links skipped)."""
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if IGNORED_PARTS.intersection(rel.parts) or path.suffix == ".pyc":
            continue
        if path.is_symlink() or not path.is_file():
            continue
        found[rel.as_posix()] = path
    return found


def is_unchanged(task: Task, files: dict[str, Path]) -> bool:
    """True when the workspace holds exactly the task's files with their original text."""
    if set(files) != set(task.files):
        return False
    for rel, text in task.files.items():
        try:
            if files[rel].read_bytes() != text.encode():
                return False
        except OSError:
            return False
    return True


def clip(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """Keep the head and the tail of a long text."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters cut ...]\n{text[-half:]}"


def stage(task: Task, files: dict[str, Path], dest: Path) -> None:
    """Write the agent's files, then the hidden tests over them, into `dest`."""
    for rel, src in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
    for rel, text in task.hidden_tests.items():
        target = dest / rel
        if target.is_dir():  # the agent made a directory where a hidden test goes
            shutil.rmtree(target)
        for parent in target.relative_to(dest).parents:
            if (dest / parent).is_file():  # a file where a hidden test needs a directory
                (dest / parent).unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def grade_in_sandbox(
    task: Task,
    result_dir: Path,
    *,
    config=None,
    labels: dict[str, str] | None = None,
    sandbox: Sandbox | None = None,
) -> GradeResult:
    """Grade the workspace `result_dir` against `task`'s hidden tests in a fresh sandbox.

    `sandbox`, when given, is a started sandbox that nothing has used yet (a caller may start
    it while the agent works, to save the start-up); the caller removes it.

    Unchanged workspace: empty. Hidden tests exit 0: resolved; fail, time out or run out of
    memory: unresolved. Grading that cannot run (no result, no Docker, ...): error.
    """
    start = time.monotonic()

    def verdict(outcome: Outcome, output: str) -> GradeResult:
        return GradeResult(outcome, clip(output), round(time.monotonic() - start, 3))

    result_dir = Path(result_dir)
    if not result_dir.is_dir():
        return verdict(Outcome.ERROR, f"no result directory to grade: {result_dir}")
    try:
        files = workspace_files(result_dir)
    except OSError as exc:
        return verdict(Outcome.ERROR, f"cannot read the result directory: {exc}")
    if is_unchanged(task, files):
        return verdict(Outcome.EMPTY, "the agent left the workspace unchanged")
    size = sum(p.stat().st_size for p in files.values())
    if len(files) > MAX_FILES or size > MAX_BYTES:
        return verdict(
            Outcome.UNRESOLVED,
            f"workspace too large to grade: {len(files)} files, {size} bytes",
        )
    all_labels = {"dgm.role": "grade", "dgm.task": task.id, **(labels or {})}
    try:
        with tempfile.TemporaryDirectory(prefix="dgm-grade-") as tmp:
            staged = Path(tmp)
            stage(task, files, staged)
            fresh = sandbox is None
            sb = Sandbox(config or SandboxConfig(), labels=all_labels) if fresh else sandbox
            with sb if fresh else contextlib.nullcontext(sb):
                sb.copy_in(staged, "/work")
                res = sb.run(list(task.grade_command), timeout=task.time_limit, cwd="/work")
    except SandboxError as exc:
        return verdict(Outcome.ERROR, f"{GRADER_FAILED}: {exc}")
    except OSError as exc:
        return verdict(Outcome.ERROR, f"{GRADER_FAILED}: cannot stage the files: {exc}")
    output = (res.stdout or "") + (f"\n[stderr]\n{res.stderr}" if res.stderr else "")
    if res.timed_out:
        limit = task.time_limit
        return verdict(Outcome.UNRESOLVED, f"hidden tests timed out after {limit}s\n{output}")
    if res.oom_killed:
        return verdict(Outcome.UNRESOLVED, f"hidden tests ran out of memory\n{output}")
    outcome = Outcome.RESOLVED if res.exit_code == 0 else Outcome.UNRESOLVED
    return verdict(outcome, f"exit code {res.exit_code}\n{output}")
