"""Evaluate one agent on one task: solve in a sandbox, grade in another, keep the logs.

The agent runs with its source mounted read-only at /agent, the problem at /task, the FM
socket at /fm and the task's files in /work. Whatever it does there (crash, hang, flood its
output, fill its workspace, delete its tests, plant links) ends as an outcome with a reason,
never as an exception. Exceptions out of `run_task` mean the environment failed (no Docker,
no image, the gateway closed), so the caller can tell them from the agent's faults.
"""

from __future__ import annotations

import difflib
import inspect
import json
import re
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks import BenchmarkError, GradeResult, Outcome, Task, get_benchmark
from benchmarks.grading import GRADER_FAILED, grade_in_sandbox, workspace_files
from dgm.errors import DgmError
from dgm.fm import SessionTags
from sandbox import LimitExceeded, RunResult, Sandbox, SandboxConfig, SandboxError

AGENT_COMMAND = [
    "python3", "/agent/agent.py", "solve",
    "--workspace", "/work", "--problem", "/task/problem.md", "--log", "/out/log.md",
]  # fmt: skip
TRANSCRIPT_LIMIT = 2_000_000  # bytes of transcript kept in the logs
TAIL = 20_000  # characters of the agent's stdout/stderr kept in the logs
DIFF_LIMIT = 200_000
OUTPUT_KILLED = "[killed: output limit exceeded]"  # what sandbox appends when it kills a flood
FOOTER = re.compile(r"steps:\s*(\d+),\s*stopped:\s*([\w-]+)")


class EvaluationError(DgmError):
    """The environment failed an evaluation (grading could not run): not the agent's fault."""

    exit_code = 1


@dataclass
class TaskResult:
    """How one agent did on one task."""

    outcome: Outcome
    tokens: int
    cost: float
    seconds: float
    log_path: str | None
    reason: str | None = None
    steps: int | None = None
    stop_reason: str | None = None
    grade_seconds: float | None = None
    """Time of the clean-room grading alone (None when it was not graded)."""


def log_name(task_id: str, attempt: int) -> str:
    """A file-system-safe directory name for one evaluation's logs."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", task_id).strip("_") + f"-{attempt}"


def run_task(
    agent_dir: Path,
    task: Task,
    *,
    gateway,
    run_id: str,
    node: int,
    attempt: int,
    sandbox_config: SandboxConfig,
    log_dir: Path,
    timeout: float,
) -> TaskResult:
    """Run the agent at `agent_dir` on `task`, grade it, and write logs under `log_dir`."""
    start = time.monotonic()
    logs = Path(log_dir) / log_name(task.id, attempt)
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    tags = SessionTags(run=run_id, node=node, task=task.id, role="solve", attempt=attempt)
    sim_context = {"reference": task.reference, "visible_check": task.visible_check}
    labels = {"dgm.run": run_id, "dgm.node": str(node), "dgm.task": task.id, "dgm.role": "solve"}
    grader = Grader(task, {**labels, "dgm.role": "grade"})
    with grader, tempfile.TemporaryDirectory(prefix="dgm-eval-") as tmp:
        scratch = Path(tmp)
        task_dir, given, result_dir, out_dir = _prepare(scratch, task)
        tokens, cost = 0, 0.0
        with gateway.session(tags, sim_context=sim_context) as fm:
            try:
                with Sandbox(
                    sandbox_config,
                    labels=labels,
                    ro_mounts={str(agent_dir): "/agent", str(task_dir): "/task"},
                    socket_dir=fm.socket_dir,
                    env=fm.env,
                ) as sb:
                    sb.copy_in(given, "/work")
                    res = sb.run(AGENT_COMMAND, timeout=timeout, cwd="/work")
                    problems = _collect(sb, task, result_dir, out_dir)
            finally:
                tokens, cost = fm.tokens, fm.cost
            fm.raise_if_refused()
        grade_seconds = None
        transcript = _keep_transcript(out_dir / "log.md", logs / "transcript.md")
        steps, stop_reason = _footer(transcript)
        reason = _agent_failure(res, timeout) or problems.pop("copy", None)
        _write_text(logs / "agent_stdout.txt", res.stdout[-TAIL:])
        _write_text(logs / "agent_stderr.txt", res.stderr[-TAIL:])
        if reason:
            outcome, grading = Outcome.ERROR, f"not graded: {reason}"
        else:
            graded = grader.grade(result_dir)
            outcome, grading = graded.outcome, graded.output
            grade_seconds = round(graded.seconds, 3)
            reason = problems.pop("deleted", None) or problems.pop("links", None)
            if outcome is Outcome.EMPTY:
                reason = reason or "the agent left the workspace unchanged"
            elif outcome is Outcome.UNRESOLVED:
                reason = reason or "the hidden tests failed"
        _write_text(logs / "grading.txt", grading)
        _write_text(logs / "changes.diff", _diff(task, result_dir))
    result = TaskResult(
        outcome=outcome,
        tokens=int(tokens),
        cost=float(cost),
        seconds=round(time.monotonic() - start, 3),
        log_path=str(logs),
        reason=reason,
        steps=steps,
        stop_reason=stop_reason,
        grade_seconds=grade_seconds,
    )
    record = {**asdict(result), "outcome": str(outcome), "task": task.id, "node": node}
    _write_text(logs / "result.json", json.dumps(record, indent=2))
    return result


class Grader:
    """The task's own suite's grader (`run_task` gets a Task, not its suite). While the agent
    works, a clean grading sandbox starts in the background when the suite's grader accepts
    one (it saves a container start per evaluation); the run's labels go on it so that a
    clean-up by run finds it. Use as a context manager: the spare sandbox is removed."""

    def __init__(self, task: Task, labels: dict[str, str]):
        self.task, self.labels = task, {**labels, "dgm.task": task.id}
        try:
            self.grade_fn = get_benchmark(task.benchmark).grade
        except BenchmarkError:  # a suite that needs options (a path) grades the shared way
            self.grade_fn = grade_in_sandbox
        self.accepts = set(inspect.signature(self.grade_fn).parameters)
        self.spare: Sandbox | None = None
        self._starter: threading.Thread | None = None

    def __enter__(self) -> Grader:
        if "sandbox" in self.accepts:
            self._starter = threading.Thread(target=self._start_spare, daemon=True)
            self._starter.start()
        return self

    def _start_spare(self) -> None:
        spare = Sandbox(SandboxConfig(background_removal=True), labels=self.labels)
        try:
            spare.start()
        except SandboxError:
            spare.remove()  # grading starts its own and reports the trouble
            return
        self.spare = spare

    def _take_spare(self) -> Sandbox | None:
        if self._starter is not None:
            self._starter.join()
            self._starter = None
        return self.spare

    def grade(self, result_dir: Path) -> GradeResult:
        """Grade; an error of the grader itself (not the agent) raises EvaluationError."""
        kwargs: dict = {}
        if "labels" in self.accepts:
            kwargs["labels"] = self.labels
        spare = self._take_spare()
        if spare is not None:
            kwargs["sandbox"] = spare
        graded = self.grade_fn(self.task, result_dir, **kwargs)
        if graded.outcome is Outcome.ERROR and graded.output.startswith(GRADER_FAILED):
            raise EvaluationError(graded.output.splitlines()[0])
        return graded

    def __exit__(self, *exc) -> None:
        spare = self._take_spare()
        if spare is not None:
            spare.remove()
            self.spare = None


def _prepare(scratch: Path, task: Task) -> tuple[Path, Path, Path, Path]:
    """The read-only task dir (problem.md), the given workspace and the copy-out targets."""
    task_dir, given = scratch / "task", scratch / "given"
    for rel, text in {"problem.md": task.problem}.items():
        _write_text(task_dir / rel, text)
    for rel, text in task.files.items():
        _write_text(given / rel, text)
    given.mkdir(exist_ok=True)
    # the sandbox user (uid 1000) must read the bind-mounted task directory
    for path in (scratch, task_dir, *task_dir.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return task_dir, given, scratch / "result", scratch / "out"


def _collect(sb: Sandbox, task: Task, result_dir: Path, out_dir: Path) -> dict[str, str]:
    """Copy the workspace and the log out; what went wrong, by kind (agent faults only)."""
    problems: dict[str, str] = {}
    result_dir.mkdir()
    out_dir.mkdir()
    try:  # the workspace and the log in one transfer
        refused = sb.copy_out_many({"/work": result_dir, "/out": out_dir})
    except LimitExceeded as exc:
        problems["copy"] = f"the workspace could not be copied out: {exc}"
        refused = []
    if refused:
        problems["links"] = f"links or special files dropped from the workspace: {refused[:5]}"
    deleted = [rel for rel in task.files if not (result_dir / rel).is_file()]
    if deleted and "copy" not in problems:
        problems["deleted"] = f"the agent deleted given files: {deleted[:5]}"
    return problems


def _agent_failure(res: RunResult, timeout: float) -> str | None:
    """Why the agent's run does not count as finished, or None."""
    if res.timed_out:
        return f"the agent timed out after {timeout:g} s"
    if res.oom_killed:
        return "the agent ran out of memory"
    if OUTPUT_KILLED in res.stderr:
        return "the agent printed more output than the sandbox keeps and was killed"
    if res.exit_code != 0:
        lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
        last = lines[-1][:200] if lines else "no stderr"
        return f"the agent exited with code {res.exit_code}: {last}"
    return None


def _keep_transcript(src: Path, dest: Path) -> str:
    if not src.is_file() or src.is_symlink():
        _write_text(dest, "(the agent wrote no transcript)\n")
        return ""
    data = src.read_bytes()[:TRANSCRIPT_LIMIT].decode("utf-8", "replace")
    _write_text(dest, data)
    return data


def _footer(transcript: str) -> tuple[int | None, str | None]:
    """(steps, stop reason) from the transcript's final `steps: N, stopped: R` line."""
    matches = FOOTER.findall(transcript[-2000:])
    if not matches:
        return None, None
    steps, reason = matches[-1]
    return int(steps), reason


def _diff(task: Task, result_dir: Path) -> str:
    """A unified diff from the given files to what the agent left (text files, bounded)."""
    after = workspace_files(result_dir) if result_dir.is_dir() else {}
    chunks: list[str] = []
    for rel in sorted(set(task.files) | set(after)):
        old = task.files.get(rel, "").splitlines(keepends=True)
        try:
            new = after[rel].read_text().splitlines(keepends=True) if rel in after else []
        except (UnicodeDecodeError, OSError):
            chunks.append(f"Binary or unreadable file {rel}\n")
            continue
        chunks.extend(difflib.unified_diff(old, new, f"a/{rel}", f"b/{rel}"))
        if sum(map(len, chunks)) > DIFF_LIMIT:
            chunks.append("[... diff cut ...]\n")
            break
    return "".join(chunks)


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", errors="replace")
