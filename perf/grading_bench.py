"""Grading time per evaluation: the tamper-proof harness against the old exit-code grading.

    .venv/bin/python perf/grading_bench.py [--rounds 3]

For each task of humaneval `small` and bugfix `small` (reference solutions), alternating in
one script: `old` stages the agent's files with the hidden tests and runs the old command
(`python3 run_hidden_check.py` / `python3 -m unittest discover`) in a fresh sandbox, trusting
its exit code, as the grader did before; `new` is `benchmarks.grading.grade_in_sandbox`.
Both include the sandbox's start, copy-in and removal. Prints medians and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks import Outcome, get_benchmark, grade_in_sandbox
from sandbox import Sandbox, SandboxConfig, ensure_image

OLD_HUMANEVAL_RUNNER = """import sys
namespace = {{"__name__": "solution"}}
exec(compile(open("solution.py").read(), "solution.py", "exec"), namespace)
exec(compile(open("hidden_check.py").read(), "hidden_check.py", "exec"), namespace)
namespace["check"](namespace[{entry!r}])
"""
OLD_BUGFIX = ("python3", "-m", "unittest", "discover", "-s", "tests_hidden", "-t", ".")


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def old_grade(task, files: dict[str, str]) -> float:
    """Seconds for the old grading (exit code of the hidden tests' process)."""
    start = time.monotonic()
    staged = {**files, **task.hidden_tests}
    if task.benchmark == "humaneval":
        staged["run_hidden_check.py"] = OLD_HUMANEVAL_RUNNER.format(entry=task.meta["entry_point"])
        command = ("python3", "run_hidden_check.py")
    else:
        command = OLD_BUGFIX
    with tempfile.TemporaryDirectory() as tmp, Sandbox(SandboxConfig()) as sb:
        sb.copy_in(write(Path(tmp), staged), "/work")
        res = sb.run(list(command), timeout=task.time_limit, cwd="/work")
    assert res.exit_code == 0, res.stderr[-500:]
    return time.monotonic() - start


def new_grade(task, files: dict[str, str]) -> float:
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        result = grade_in_sandbox(task, write(Path(tmp), files))
    assert result.outcome is Outcome.RESOLVED, result.output
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ensure_image()
    for suite_name in ("humaneval", "bugfix"):
        suite = get_benchmark(suite_name)
        times: dict[str, list[float]] = {"old": [], "new": []}
        for round_ in range(args.rounds):
            for task in suite.tasks("small"):
                files = {**task.files, **task.reference}
                order = ("old", "new") if round_ % 2 == 0 else ("new", "old")
                for which in order:
                    grade = old_grade if which == "old" else new_grade
                    times[which].append(grade(task, files))
        old, new = statistics.median(times["old"]), statistics.median(times["new"])
        print(
            f"{suite_name:10} {len(times['new'])} gradings each: old median {old:.3f} s, "
            f"new median {new:.3f} s, ratio new/old {new / old:.2f}"
        )


if __name__ == "__main__":
    main()
