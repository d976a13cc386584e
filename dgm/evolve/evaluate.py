"""Evaluate one agent on one task: solve in a sandbox, grade in another, keep the logs.

The agent runs with its source mounted read-only at /agent, the problem at /task, the FM
socket at /fm and the task's files in /work. Whatever it does there (crash, hang, flood its
output, fill its workspace, delete its tests, plant links) ends as an outcome with a reason,
never as an exception. Exceptions out of `run_task` mean the environment failed (no Docker,
no image, the gateway closed), so the caller can tell them from the agent's faults.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks import GradeResult, Outcome, Task, basetree
from benchmarks.grading import GRADER_FAILED, grade_in_sandbox
from dgm.errors import DgmError
from dgm.evolve.diffs import workspace_diff
from dgm.fm import SessionTags
from sandbox import LimitExceeded, RunResult, Sandbox, SandboxConfig, SandboxError

AGENT_COMMAND = [
    "python3", "/agent/agent.py", "solve",
    "--workspace", "/work", "--problem", "/task/problem.md", "--log", "/out/log.md",
]  # fmt: skip
TRANSCRIPT_LIMIT = 2_000_000  # bytes of transcript kept in the logs
TAIL = 20_000  # characters of the agent's stdout/stderr kept in the logs
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
    tests: dict[str, str] = field(default_factory=dict)
    """Per-test results of the grading: test id -> pass / fail / error / skip / missing."""


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
                    _for_task(sandbox_config, task),
                    labels=labels,
                    ro_mounts={str(agent_dir): "/agent", str(task_dir): "/task"},
                    socket_dir=fm.socket_dir,
                    env=fm.env,
                ) as sb:
                    _seed(sb, task)
                    sb.copy_in(given, "/work")
                    res = sb.run(AGENT_COMMAND, timeout=timeout, cwd="/work")
                    problems, delta = _collect(sb, task, result_dir, out_dir)
            finally:
                fm.close()  # waits for calls still at the provider: they count here too
                tokens, cost = fm.tokens, fm.cost
            fm.raise_if_refused()
        grade_seconds, tests = None, {}
        transcript = _keep_transcript(out_dir / "log.md", logs / "transcript.md")
        steps, stop_reason = _footer(transcript)
        reason = _agent_failure(res, timeout) or problems.pop("copy", None)
        _write_text(logs / "agent_stdout.txt", res.stdout[-TAIL:])
        _write_text(logs / "agent_stderr.txt", res.stderr[-TAIL:])
        if reason:
            outcome, grading = Outcome.ERROR, f"not graded: {reason}"
        else:
            graded = grader.grade(result_dir, delta.deleted)
            outcome, grading = graded.outcome, graded.output
            grade_seconds, tests = round(graded.seconds, 3), dict(graded.tests)
            reason = problems.pop("deleted", None) or problems.pop("links", None)
            if outcome is Outcome.EMPTY:
                reason = reason or "the agent left the workspace unchanged"
            elif outcome is Outcome.UNRESOLVED:
                reason = reason or "the hidden tests failed"
            elif outcome is Outcome.TAMPERED:
                reason = "tampered: " + "; ".join(graded.evidence)[:1000]
        _write_text(logs / "grading.txt", grading)
        _write_text(logs / "changes.diff", workspace_diff(task, result_dir, delta))
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
        tests=tests,
    )
    record = {**asdict(result), "outcome": str(outcome), "task": task.id, "node": node}
    _write_text(logs / "result.json", json.dumps(record, indent=2))
    return result


class Grader:
    """The shared clean-room grader for `task` (every suite grades through
    `benchmarks.grading.grade_in_sandbox`; the task carries its image and test plan). While
    the agent works, a clean grading sandbox of the task's image starts in the background (it
    saves a container start per evaluation); the run's labels go on it so that a clean-up by
    run finds it. Use as a context manager: the spare sandbox is removed."""

    def __init__(self, task: Task, labels: dict[str, str]):
        self.task, self.labels = task, {**labels, "dgm.task": task.id}
        self.config = SandboxConfig(background_removal=True, image=task.image)
        self.spare: Sandbox | None = None
        self._starter: threading.Thread | None = None

    def __enter__(self) -> Grader:
        self._starter = threading.Thread(target=self._start_spare, daemon=True)
        self._starter.start()
        return self

    def _start_spare(self) -> None:
        spare = Sandbox(self.config, labels=self.labels)
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
        spare, self.spare = self.spare, None
        return spare

    def grade(self, result_dir: Path, deleted: tuple[str, ...] = ()) -> GradeResult:
        """Grade; an error of the grader itself (not the agent) raises EvaluationError."""
        spare = self._take_spare()
        try:
            graded = grade_in_sandbox(
                self.task, result_dir, config=self.config, labels=self.labels, sandbox=spare,
                deleted=deleted,
            )  # fmt: skip
        finally:
            if spare is not None:
                spare.remove()
        if graded.outcome is Outcome.ERROR and graded.output.startswith(GRADER_FAILED):
            raise EvaluationError(graded.output.splitlines()[0])
        return graded

    def __exit__(self, *exc) -> None:
        spare = self._take_spare()
        if spare is not None:
            spare.remove()


def _for_task(config: SandboxConfig, task: Task) -> SandboxConfig:
    """The solve sandbox's settings with the task's own image, when it has one."""
    return config.model_copy(update={"image": task.image}) if task.image else config


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


def _seed(sb: Sandbox, task: Task) -> None:
    """A base-tree task's workspace: the tree, copied inside the container (never from the
    host). Its failure is the environment's (a broken image), not the agent's."""
    if task.base_tree:
        res = sb.run(basetree.seed_command(task.base_tree), timeout=300, cwd="/")
        if res.exit_code != 0:
            raise EvaluationError(f"{task.id}: cannot seed the workspace: {res.stderr[-200:]}")


def _collect(
    sb: Sandbox, task: Task, result_dir: Path, out_dir: Path
) -> tuple[dict[str, str], basetree.Delta]:
    """Copy the workspace (of a base-tree task: only its delta) and the log out; what went
    wrong, by kind (agent faults only), and the delta's manifest. Nothing the agent left
    running may change the files while they are read, so every process in the sandbox is
    killed first. What the workspace holds never raises: an entry that cannot be copied
    (unreadable, too deep, too large) is the agent's doing and becomes the `copy` problem.
    When nothing was copied, `result_dir` does not exist."""
    problems: dict[str, str] = {}
    result_dir.mkdir()
    out_dir.mkdir()
    sb.kill_all()  # survivors stuck in the kernel cannot stop the copy: the packer copes
    delta, nonce = basetree.Delta(), secrets.token_hex(16)
    if task.base_tree:  # the image's Python drops what equals the tree; the rest goes out
        res = sb.run(basetree.delta_argv(task.base_tree, nonce), timeout=300, cwd="/")
        if res.exit_code != 0 and "dgm-delta:" not in res.stderr:
            raise EvaluationError(f"{task.id}: the delta script failed: {res.stderr[-300:]}")
        if res.exit_code != 0:  # no room or no access for the manifest: the agent's doing
            problems["copy"] = f"the workspace could not be compared: {res.stderr[-300:]}"
            shutil.rmtree(result_dir, ignore_errors=True)
            return problems, delta
    try:  # the workspace and the log in one transfer
        report = sb.copy_out_many({"/work": result_dir, "/out": out_dir})
    except LimitExceeded as exc:
        problems["copy"] = f"the workspace could not be copied out: {exc}"
        shutil.rmtree(result_dir, ignore_errors=True)
        return problems, delta
    # Only the workspace is graded: a log the agent made unreadable just goes missing.
    work = report.under("work")
    if work.incomplete:
        problems["copy"] = f"the workspace could not be copied out whole: {work.describe()}"
    if work.refused:
        dropped = work.describe(lost=False)
        problems["links"] = f"links or special files dropped from the workspace: {dropped}"
    if task.base_tree:
        try:
            delta = basetree.Delta.read(result_dir, nonce)
        except (OSError, ValueError, KeyError, AttributeError):  # the agent blocked its copy
            problems["copy"] = "the workspace's delta manifest could not be copied out"
    deleted = [rel for rel in task.files if not (result_dir / rel).is_file()]
    if deleted:
        problems["deleted"] = f"the agent deleted given files: {deleted[:5]}"
    return problems, delta


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
    try:
        if src.is_symlink() or not src.is_file():
            raise FileNotFoundError(src)
        with src.open("rb") as f:  # never more than the limit in memory
            data = f.read(TRANSCRIPT_LIMIT).decode("utf-8", "replace")
    except OSError:
        _write_text(dest, "(the agent wrote no transcript)\n")
        return ""
    _write_text(dest, data)
    return data


def _footer(transcript: str) -> tuple[int | None, str | None]:
    """(steps, stop reason) from the transcript's final `steps: N, stopped: R` line."""
    matches = FOOTER.findall(transcript[-2000:])
    if not matches:
        return None, None
    steps, reason = matches[-1]
    return int(steps), reason


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", errors="replace")
