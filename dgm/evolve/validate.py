"""Validation of a self-modified child before it may become a parent.

A child is valid when its diff is not empty, stays within sane sizes, every Python file
compiles, the agent's own tests pass, and `agent.py solve` starts and reaches the FM on a
one-line smoke task. All code runs in a sandbox; the host only reads files.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from sandbox import Sandbox, SandboxConfig

MAX_FILE_BYTES = 1_000_000
MAX_TOTAL_BYTES = 20_000_000
SMOKE_PROBLEM = (
    "Create a file `hello.py` that prints `hello`.\n\n## Checking your work\n\n"
    "```\npython3 hello.py\n```\n"
)
SMOKE_CONTEXT = {"reference": {"hello.py": "print('hello')\n"}, "visible_check": "python3 hello.py"}


@dataclass(frozen=True)
class Verdict:
    valid: bool
    reason: str | None = None
    changed_files: int = 0


# The workbench's marker of a fully materialised agent directory.
NOT_SOURCE = {".complete"}


def _source_files(root: Path) -> dict[str, Path]:
    """Relative path -> path of every regular file (links are not source)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel in NOT_SOURCE or "__pycache__" in path.parts:
            continue
        if path.is_file() and not path.is_symlink():
            out[rel] = path
    return out


def file_map(root: Path) -> dict[str, bytes]:
    """Relative path -> content of every regular file (links are not source)."""
    return {rel: path.read_bytes() for rel, path in _source_files(root).items()}


def static_checks(parent_dir: Path, child_dir: Path) -> Verdict:
    """What the host can decide by reading files: empty diff, sizes, the entry point. Sizes
    come first, from the file system, so a huge child is never read into memory."""
    try:
        sizes = {rel: p.stat().st_size for rel, p in _source_files(child_dir).items()}
        big = [rel for rel, size in sizes.items() if size > MAX_FILE_BYTES]
        if big or sum(sizes.values()) > MAX_TOTAL_BYTES:
            parent = {r: p.stat().st_size for r, p in _source_files(parent_dir).items()}
            n = sum(parent.get(rel) != size for rel, size in sizes.items())
            n += len(parent.keys() - sizes.keys())
            if big:
                return Verdict(False, f"file too large: {big[0]!r}", n)
            return Verdict(False, "agent source over 20 MB", n)
        parent, child = file_map(parent_dir), file_map(child_dir)
    except OSError as exc:  # what the agent left on disk: the child's fault
        return Verdict(False, f"its source cannot be read: {exc}")
    changed = {p for p in parent.keys() | child.keys() if parent.get(p) != child.get(p)}
    if not changed:
        return Verdict(False, "empty diff: the agent changed nothing")
    if "agent.py" not in child:
        return Verdict(False, "agent.py was deleted", len(changed))
    return Verdict(True, None, len(changed))


def first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:200] if lines else "(no output)"


def validate_child(
    parent_dir: Path,
    child_dir: Path,
    *,
    fm_session,
    sandbox_config: SandboxConfig,
    labels: dict[str, str],
    timeout: float,
    smoke_timeout: float | None = None,
) -> Verdict:
    """Run the checks in one sandbox holding the child's source; `fm_session` is an open
    gateway session (role solve, task `smoke`) that the smoke run must reach. `timeout`
    bounds compiling and the child's tests; the smoke run waits for the model too, so it
    gets `smoke_timeout` (the run derives it from the per-call timeout), never less."""
    smoke_timeout = max(timeout, smoke_timeout or 0.0)
    verdict = static_checks(parent_dir, child_dir)
    if not verdict.valid:
        return verdict
    n = verdict.changed_files
    with tempfile.TemporaryDirectory(prefix="dgm-smoke-") as tmp:
        task_dir = Path(tmp)
        task_dir.chmod(0o755)  # readable by the sandbox's non-root user
        (task_dir / "problem.md").write_text(SMOKE_PROBLEM)
        with Sandbox(
            sandbox_config,
            labels=labels,
            ro_mounts={str(task_dir): "/task"},
            socket_dir=fm_session.socket_dir,
            env=fm_session.env,
        ) as sb:
            sb.copy_in(child_dir, "/work")
            res = sb.run(["python3", "-m", "compileall", "-q", "."], timeout=timeout)
            if res.timed_out or res.exit_code != 0:
                return Verdict(False, f"does not compile: {first_line(res.stdout)}", n)
            if (child_dir / "tests").is_dir():
                res = sb.run(
                    ["python3", "-m", "unittest", "discover", "-s", "tests", "-t", "."],
                    timeout=timeout,
                )
                if res.timed_out:
                    return Verdict(False, "its own tests time out", n)
                if res.exit_code != 0:
                    return Verdict(False, f"its own tests fail: {first_line(res.stderr)}", n)
            calls_before = fm_session.calls
            res = sb.run(
                [
                    "sh",
                    "-c",
                    "mkdir -p /tmp/smoke && python3 /work/agent.py solve --workspace /tmp/smoke"
                    " --problem /task/problem.md --log /tmp/smoke.log",
                ],
                timeout=smoke_timeout,
            )
            if res.timed_out:
                return Verdict(False, f"smoke run timed out after {smoke_timeout:g} s", n)
            if res.exit_code != 0:
                return Verdict(False, f"smoke run crashed: {first_line(res.stderr)}", n)
            if fm_session.calls == calls_before:
                return Verdict(False, "smoke run never reached the FM", n)
    return Verdict(True, None, n)
