"""The clean-room grader every suite uses, and the verdict rules.

The agent's resulting files are read on the host (regular files only; links, devices and
native extension modules are dropped) and copied into a fresh sandbox that has never seen the
agent. There a trusted harness (`benchmarks/harness/`) reads the hidden tests (and deletes
them) before any of the agent's code runs, and runs the agent's code only in child
processes; it reports per-test results and any evidence of tampering beside a per-grading
nonce that no process running the agent's code ever holds (inline, or in a file whose
SHA-256 it prints). The host believes nothing else: no exit code, no output. A task on a base
tree (`Task.base_tree`) sends only the agent's delta; the image's tree is laid under it in
the container before the harness starts (`benchmarks/basetree.py`).

Verdict: unchanged workspace -> empty; evidence of an attempt on the grader -> tampered;
every expected test reported `pass` -> resolved; otherwise unresolved. A grading that
cannot run for reasons outside the agent (no Docker, a harness bug) is an error whose output
begins with GRADER_FAILED; the caller must not record it against the agent.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from benchmarks import basetree, harness, reports
from benchmarks.base import GradeResult, Outcome, Task
from sandbox import RunResult, Sandbox, SandboxConfig, SandboxError

# What a workspace may hold to be graded at all: beyond this it is the agent's misbehaviour.
MAX_FILES = 5_000
MAX_BYTES = 64 * 1024 * 1024
OUTPUT_LIMIT = 8_000
VERDICT_LIMIT = 48 * 1024 * 1024
GRADER_FAILED = "grading could not run"  # how an error of the grader (not the agent) begins
# Files that appear by running code, not by the agent's intent.
IGNORED_PARTS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
NATIVE_SUFFIXES = (".so", ".pyd", ".dylib")  # code the Python graders never load
# Modules the Python harness and test frameworks run on: a workspace file of that name can
# only be meant to shadow one (the harness puts the workspace last on sys.path anyway).
SHADOWED = frozenset(
    [
        "unittest",
        "pytest",
        "_pytest",
        "encodings",
        "site",
        "sitecustomize",
        "usercustomize",
        "builtins",
        "importlib",
        "json",
        "hmac",
        "hashlib",
        "os",
        "sys",
        "ast",
        "types",
        "traceback",
        "threading",
        "ctypes",
        "subprocess",
        "io",
        "abc",
        "codecs",
        "collections",
        "functools",
        "re",
        "struct",
        "select",
        "signal",
        "time",
        "doctest",
        "inspect",
        "runpy",
    ]
)


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


def select_files(task: Task, files: dict[str, Path]) -> tuple[dict[str, Path], list[str]]:
    """The agent's files that go into the grading workspace, and the evidence against the
    ones that may not: files in a tests directory that are not hidden tests, and native
    extension modules in a Python task. Files at a hidden test's path are replaced, not
    evidence (the agent may edit the tests it can see)."""
    plan = task.plan
    test_dirs = [PurePosixPath(d) for d in (plan.test_dirs if plan else ())]
    python = plan is not None and plan.kind in ("call", "unittest")
    keep: dict[str, Path] = {}
    evidence: list[str] = []
    for rel, path in files.items():
        pure = PurePosixPath(rel)
        if rel in task.hidden_tests or any(p in task.hidden_tests for p in _parents(pure)):
            continue
        if any(d in pure.parents for d in test_dirs):
            evidence.append(f"an extra file in the tests directory: {rel[:120]}")
            continue
        if python and pure.suffix in NATIVE_SUFFIXES:
            evidence.append(f"a native extension module in the workspace: {rel[:120]}")
            continue
        top = pure.parts[0].removesuffix(".py")
        if python and rel not in task.files and top in SHADOWED:
            evidence.append(f"a file that shadows the module `{top}`: {rel[:120]}")
            continue
        keep[rel] = path
    return keep, evidence


def _parents(path: PurePosixPath) -> list[str]:
    return [p.as_posix() for p in path.parents if p.as_posix() != "."]


def stage(task: Task, files: dict[str, Path], dest: Path) -> None:
    """Write the agent's selected files (and, for native runners, the hidden tests) to `dest`."""
    for rel, src in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
    if not harness.stages_hidden_tests(task):
        return
    for rel, text in task.hidden_tests.items():
        target = dest / rel
        for parent in target.relative_to(dest).parents:
            if (dest / parent).is_file():  # a file where a hidden test needs a directory
                (dest / parent).unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def grade_in_sandbox(
    task: Task,
    result_dir: Path,
    *,
    config: SandboxConfig | None = None,
    labels: dict[str, str] | None = None,
    sandbox: Sandbox | None = None,
    deleted: Sequence[str] = (),
) -> GradeResult:
    """Grade the workspace `result_dir` against `task`'s hidden tests in a fresh sandbox.

    `sandbox`, when given, is a started sandbox of the task's image that nothing has used
    yet (a caller may start it while the agent works); the caller removes it. With a
    `task.base_tree`, `result_dir` is the agent's delta (changed and added files) and
    `deleted` names the base files it removed; the grading workspace is the tree with both
    applied.
    """
    start = time.monotonic()

    def verdict(outcome: Outcome, output: str, **extra) -> GradeResult:
        return GradeResult(outcome, clip(output), round(time.monotonic() - start, 3), **extra)

    result_dir = Path(result_dir)
    if not result_dir.is_dir():
        return verdict(Outcome.ERROR, f"no result directory to grade: {result_dir}")
    try:
        files = workspace_files(result_dir)
        if is_unchanged(task, files) and not (task.base_tree and deleted):
            return verdict(Outcome.EMPTY, "the agent left the workspace unchanged")
        size = sum(p.stat().st_size for p in files.values())
    except OSError as exc:
        return verdict(Outcome.ERROR, f"the workspace could not be read: {exc}")
    if len(files) > MAX_FILES or size > MAX_BYTES:
        return verdict(
            Outcome.UNRESOLVED, f"workspace too large to grade: {len(files)} files, {size} bytes"
        )
    files, staged_evidence = select_files(task, files)
    nonce = secrets.token_hex(16)
    job = harness.job_bytes(task, nonce)
    all_labels = {"dgm.role": "grade", "dgm.task": task.id, **(labels or {})}
    config = config or SandboxConfig()
    if task.image and config.image != task.image:
        config = config.model_copy(update={"image": task.image})
    try:
        with tempfile.TemporaryDirectory(prefix="dgm-grade-") as tmp:
            staged, dest, command = Path(tmp), "/work", list(harness.COMMAND)
            if task.base_tree:  # staged apart; the tree and the delta make /work in there
                (staged / "delta.json").write_text(basetree.stage_meta(task.base_tree, deleted))
                staged, dest = staged / "work", f"{basetree.STAGE}{nonce}"
                command = basetree.grade_argv(nonce, harness.COMMAND)
                staged.mkdir()
            stage(task, files, staged)
            job_file = staged / harness.JOB_FILE  # after the agent's files: ours wins
            job_file.unlink(missing_ok=True)
            job_file.write_bytes(job)
            fresh = sandbox is None
            sb = Sandbox(config, labels=all_labels) if fresh else sandbox
            with sb if fresh else contextlib.nullcontext(sb):
                sb.copy_in(Path(tmp), dest)
                res = sb.run(command, timeout=task.time_limit + 30, cwd="/work")
                report, problem = _read_verdict(sb, res, nonce)
    except SandboxError as exc:
        return verdict(Outcome.ERROR, f"{GRADER_FAILED}: {exc}")
    except OSError as exc:
        return verdict(Outcome.ERROR, f"{GRADER_FAILED}: cannot stage the files: {exc}")
    if report is None:
        return _without_report(task, res, problem, staged_evidence, verdict)
    return _judge(task, report, staged_evidence, verdict)


def _read_verdict(sb: Sandbox, res: RunResult, nonce: str) -> tuple[dict | None, str]:
    """The harness's report beside the nonce; or None and what went wrong."""
    return harness.read_verdict(res.stdout, nonce, lambda path: sb.read_file(path, VERDICT_LIMIT))


def _without_report(task, res, problem, evidence, verdict) -> GradeResult:
    """No trustworthy report: a time-out, memory, the agent's processes, or the harness."""
    output = f"exit code {res.exit_code}\n{res.stdout}\n[stderr]\n{res.stderr}"
    if res.timed_out:
        return verdict(Outcome.UNRESOLVED, f"hidden tests timed out after {task.time_limit}s")
    if res.oom_killed:
        return verdict(Outcome.UNRESOLVED, f"hidden tests ran out of memory\n{output}")
    if problem.startswith("unwritable"):
        text = f"the grading container's /tmp was not writable ({problem}): filled by the agent"
        return verdict(Outcome.UNRESOLVED, text)
    if problem == "changed":
        evidence = [*evidence, "the verdict file was changed after the harness wrote it"]
    elif res.exit_code == 1 and "Traceback" in res.stderr:
        return verdict(Outcome.ERROR, f"{GRADER_FAILED}: the harness failed\n{output}")
    else:
        evidence = [*evidence, f"the grading harness ended without a verdict ({res.exit_code})"]
    return verdict(Outcome.TAMPERED, "\n".join(evidence), evidence=tuple(evidence))


def _judge(task: Task, report: dict, evidence: list[str], verdict) -> GradeResult:
    """The verdict from a trustworthy report."""
    plan = task.plan
    if report.get("harness_error"):
        return verdict(Outcome.ERROR, f"{GRADER_FAILED}: {report['harness_error']}")
    tests = {str(k): str(v) for k, v in (report.get("tests") or {}).items()}
    if plan.kind == "command":
        tests = reports.parse(plan.report_format, str(report.get("report") or ""))
    evidence = [*evidence, *[str(e) for e in report.get("evidence") or []]]
    for test_id in plan.expected:
        tests.setdefault(test_id, "missing")
    summary = _summary(plan.expected, tests)
    log = str(report.get("log") or "")
    if evidence:
        text = "tampering:\n" + "\n".join(f"- {e}" for e in evidence) + f"\n{summary}\n{log}"
        return verdict(Outcome.TAMPERED, text, tests=tests, evidence=tuple(evidence))
    if report.get("timed_out"):
        text = f"hidden tests timed out after {task.time_limit}s\n{summary}\n{log}"
        return verdict(Outcome.UNRESOLVED, text, tests=tests)
    passed = bool(plan.expected) and all(tests[t] == "pass" for t in plan.expected)
    outcome = Outcome.RESOLVED if passed else Outcome.UNRESOLVED
    return verdict(outcome, f"{summary}\n{log}", tests=tests)


def _summary(expected, tests: dict[str, str]) -> str:
    """One line of counts, then the expected tests that did not pass."""
    bad = [f"{t}: {tests[t]}" for t in expected if tests[t] != "pass"]
    passed = len(expected) - len(bad)
    head = f"hidden tests: {passed} of {len(expected)} passed"
    return head + "".join(f"\n  {line}" for line in bad[:20])
