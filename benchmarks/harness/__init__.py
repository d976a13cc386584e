"""The trusted grading harness: in-container scripts (standard library only) and the job the
host hands them.

`parent.py` runs in the clean grading container as `python3 -I -S -B -c <text> JOB_FILE`; it
reads its whole job (hidden tests, a nonce) and deletes the file before any of the agent's
code runs (it arrives with the agent's files, in a container where nothing has run); the
agent's code runs only in its child processes (`call_child.py`, `unittest_child.py`, or a
native test command). See `benchmarks/grading.py` for how the host turns its report into a verdict.
"""

from __future__ import annotations

import binascii
import hashlib
import marshal
from collections.abc import Callable
from importlib import resources

from benchmarks.base import Task

MARK = "DGM-GRADE"


def _text(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


_PLAIN = _text("plain.py")
PARENT = _PLAIN + _text("parent.py")
"""The trusted parent's source (the plain-data codec first)."""
JOB_FILE = ".dgm-grading-job"
"""The job's file in the graded workspace; the parent deletes it before any agent code runs."""
COMMAND = ("python3", "-I", "-S", "-B", "-c", PARENT, JOB_FILE)
"""How the grading sandbox starts the parent (the same flags as its children)."""
CHILDREN = {
    "call": _PLAIN + _text("call_child.py"),
    "unittest": _PLAIN + _text("guards.py") + _text("unittest_child.py"),
}


def job(task: Task, nonce: str, workdir: str = "/work") -> dict:
    """The parent's job for grading `task` in `workdir` (written to JOB_FILE there)."""
    plan = task.plan
    if plan is None:
        raise ValueError(f"task {task.id} has no test plan")
    spec: dict = {
        "nonce": nonce,
        "kind": plan.kind,
        "timeout": float(task.time_limit),
        "workdir": workdir,
        "scripts": CHILDREN,
        "expected": list(plan.expected),
        "test_dirs": list(plan.test_dirs),
    }
    if plan.kind == "call":
        (test,) = task.hidden_tests.values()
        solution = task.meta.get("solution", "solution.py")
        entry = task.meta["entry_point"]
        spec.update(test=test, prompt=task.files[solution], solution=solution, entry=entry)
    elif plan.kind == "unittest":
        spec["hidden"] = dict(task.hidden_tests)
    elif plan.kind == "command":
        spec["command"] = list(task.grade_command)
        spec["report_path"] = plan.report_path
        spec["digests"] = {
            rel: hashlib.sha256(text.encode()).hexdigest()
            for rel, text in task.hidden_tests.items()
        }
    else:
        raise ValueError(f"task {task.id}: unknown test plan kind {plan.kind!r}")
    return spec


def job_bytes(task: Task, nonce: str, workdir: str = "/work") -> bytes:
    """The job as the parent reads it (marshal: a built-in module, no import time there)."""
    return marshal.dumps(job(task, nonce, workdir))


def read_verdict(
    stdout: str, nonce: str, read_file: Callable[[str], bytes | None]
) -> tuple[dict | None, str]:
    """The parent's report from its output: the last line that carries `nonce`, inline or in
    the file it names (fetched with `read_file`, checked against the digest beside it).
    None and a word on what went wrong (`none`, `unwritable: ...`, `changed`) otherwise."""
    lines = [ln for ln in stdout.splitlines() if ln.startswith(f"{MARK} {nonce} ")]
    if not lines:
        return None, "none"
    _, _, where, rest = (lines[-1].split(" ", 3) + ["", ""])[:4]
    if where == "-":
        return None, f"unwritable: {rest}"
    if where == "inline":
        data = binascii.a2b_base64(rest)
    else:
        data = read_file(where) or b""
        if hashlib.sha256(data).hexdigest() != rest:
            return None, "changed"
    return marshal.loads(data), ""


def stages_hidden_tests(task: Task) -> bool:
    """Whether the hidden tests are written into the graded workspace (native runners read
    them from disk); Python kinds get them on stdin, never on a disk the agent's code sees."""
    return task.plan is not None and task.plan.kind == "command"


__all__ = [
    "CHILDREN",
    "COMMAND",
    "JOB_FILE",
    "MARK",
    "PARENT",
    "job",
    "job_bytes",
    "read_verdict",
    "stages_hidden_tests",
]
