"""Many exercises' test commands in one sandbox, one after another: the suite's self-test
(every reference resolves) and the floor of `perf/polyglot_bench.py` (the same tests run
directly in a container of the same image, without the grader around them).

This is not grading: nothing here guards against an agent. Each exercise gets its own
directory `/work/<n>` holding the given files with the hidden tests over them, and its
`grade_command` runs there as it would in a grading sandbox; its report is parsed with the
task's parser.
"""

from __future__ import annotations

import json
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks import reports
from benchmarks.base import Task
from sandbox import Sandbox, SandboxConfig

DRIVER = r"""
import json, os, subprocess, sys, time
jobs = json.load(open(sys.argv[1]))
out = {}
for job in jobs:
    for stale in job["clean"]:
        subprocess.run(["rm", "-rf", stale])
    start = time.monotonic()
    try:
        proc = subprocess.run(job["argv"], cwd=job["cwd"], capture_output=True, text=True,
                              errors="replace", timeout=job["timeout"])
        code, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired:
        code, stdout, stderr = -1, "", "timed out"
    seconds = time.monotonic() - start
    report = stdout
    if job["report_path"]:
        try:
            report = open(job["report_path"], errors="replace").read()
        except OSError:
            report = ""
    out[job["key"]] = {"code": code, "seconds": seconds, "report": report[-20000000:],
                       "output": (stdout[-3000:] + "\n[stderr]\n" + stderr[-3000:])}
json.dump(out, open(sys.argv[2], "w"))
"""


@dataclass
class BatchResult:
    tests: dict[str, str]
    exit_code: int
    seconds: float
    output: str

    def failing(self, expected) -> list[str]:
        return [t for t in expected if self.tests.get(t) != "pass"]


def workspace_with(task: Task, files: dict[str, str] | None) -> dict[str, str]:
    """The task's workspace with `files` over it (e.g. the reference), then the hidden tests
    restored over everything, as grading stages it."""
    return {**task.files, **(files or {}), **task.hidden_tests}


def run_batch(
    tasks: list[Task],
    workspaces: dict[str, dict[str, str]],
    config: SandboxConfig | None = None,
    rewrite=None,
    labels: dict[str, str] | None = None,
) -> dict[str, BatchResult]:
    """Run each command-kind task's `grade_command` in its own directory of one sandbox of
    the tasks' image. `rewrite(task, argv) -> argv` may change a command (the self-test uses
    it to share one compiled Catch main among C++ exercises)."""
    images = {t.image for t in tasks}
    if len(images) != 1:
        raise ValueError(f"one image per batch, not {sorted(map(str, images))}")
    config = (config or SandboxConfig(command_timeout=3600)).model_copy(
        update={"image": images.pop()}
    )
    with tempfile.TemporaryDirectory(prefix="dgm-polyglot-batch-") as tmp:
        root = Path(tmp)
        jobs = []
        for n, task in enumerate(tasks):
            key = f"x{n:03d}"
            for rel, text in workspaces[task.id].items():
                path = root / key / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
            argv = list(rewrite(task, task.grade_command) if rewrite else task.grade_command)
            plan = task.plan
            jobs.append({
                "key": key, "argv": argv, "cwd": f"/work/{key}",
                "timeout": task.time_limit, "report_path": plan.report_path,
                "clean": [p for p in (plan.report_path,) if p],
            })  # fmt: skip
        (root / "driver.py").write_text(DRIVER)
        (root / "jobs.json").write_text(json.dumps(jobs))
        with Sandbox(config, labels={"dgm.role": "polyglot-batch", **(labels or {})}) as sb:
            sb.copy_in(root, "/work")
            budget = sum(t.time_limit for t in tasks) + 120
            res = sb.run(
                ["python3", "/work/driver.py", "/work/jobs.json", "/tmp/dgm-batch.json"],
                timeout=budget,
            )
            data = sb.read_file("/tmp/dgm-batch.json", 400_000_000)
        if data is None:
            raise RuntimeError(f"the batch driver failed: {res.stderr[-2000:]}")
    results = json.loads(data)
    out = {}
    for n, task in enumerate(tasks):
        got = results[f"x{n:03d}"]
        tests = reports.parse(task.plan.report_format, got["report"])
        out[task.id] = BatchResult(tests, got["code"], got["seconds"], got["output"])
    return out


def shell_of(argv) -> str:
    """The shell text of a command (`sh -c TEXT` gives TEXT)."""
    argv = list(argv)
    if argv[:2] == ["sh", "-c"] and len(argv) == 3:
        return argv[2]
    return shlex.join(argv)
