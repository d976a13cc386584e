"""SWE-bench adapter figures: image build (cold / cached), sizes, grading time against the
floor (the same tests run directly in a fresh sandbox of the same image: start it, seed /work
from the base tree, copy the gold delta and the test files in, run the test command; no
harness, no delta staging). Grading and floor runs alternate; medians; the load average
before and after is printed (the figures mean little on a loaded machine).

    .venv/bin/python perf/swebench_bench.py [--path ../shared/swebench] [--repeat 3] [IDS...]

Cold builds are measured only with --cold (it removes the instance images first; the base
and environment layers stay, so "cold" is the instance layer unless --cold-all).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks import basetree, get_benchmark
from benchmarks.grading import stage, workspace_files
from sandbox import Sandbox, SandboxConfig

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "swebench"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def floor(task, answer: Path) -> float:
    """Start a sandbox of the image, copy the graded files in, run the test command."""
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp)
        stage(task, workspace_files(answer), staged)
        start = time.monotonic()
        with Sandbox(SandboxConfig(image=task.image)) as sb:
            if task.base_tree:  # the workspace every run in this image starts from
                sb.run(basetree.seed_command(task.base_tree), cwd="/")
            sb.copy_in(staged, "/work")
            # the grading command itself (its preamble and the tests), without the harness
            sb.run(list(task.grade_command), timeout=task.time_limit, cwd="/work")
            sb.read_file(task.plan.report_path)
        return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*")
    parser.add_argument("--path", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="rebuild the instance layer")
    args = parser.parse_args()
    suite = get_benchmark("swebench", path=args.path)
    ids = args.ids or suite.task_ids("full")
    print(f"load average: {os.getloadavg()[0]:.1f} (1 min), {os.cpu_count()} cores")
    print(f"{'instance':28} {'build s':>8} {'cached s':>8} {'size MB':>8} {'delta':>6} "
          f"{'task s':>6} {'grade s':>8} {'floor s':>8} {'ratio':>6}")  # fmt: skip
    for iid in ids:
        if args.cold:
            info = suite.prepare_instance(iid)
            subprocess.run(["docker", "rmi", "-f", info["image"]], capture_output=True)
        cold = suite.prepare_instance(iid)
        start = time.monotonic()
        cached = suite.prepare_instance(iid)
        cached_s = time.monotonic() - start
        start = time.monotonic()
        task = suite.task(iid)
        task_s = time.monotonic() - start
        grades, floors = [], []
        with tempfile.TemporaryDirectory() as tmp:
            answer = write(Path(tmp) / "answer", {**task.files, **task.reference})
            delta_files = len(workspace_files(answer))
            for _ in range(args.repeat):
                graded = suite.grade(task, answer)
                assert graded.outcome == "resolved", graded.output
                grades.append(graded.seconds)
                floors.append(floor(task, answer))
        g, f = statistics.median(grades), statistics.median(floors)
        print(f"{iid:28} {cold['seconds']:8.1f} {cached_s:8.2f} {cached['size_mb']:8.0f} "
              f"{delta_files:6d} {task_s:6.2f} {g:8.2f} {f:8.2f} {g / f:6.2f}")  # fmt: skip
        paired = statistics.median(a / b for a, b in zip(grades, floors, strict=True))
        print(
            f"  grade runs {[round(x, 2) for x in grades]}, floor runs "
            f"{[round(x, 2) for x in floors]}, median of paired ratios {paired:.2f}, "
            f"load {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
