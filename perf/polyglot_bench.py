"""Polyglot grading time per exercise per language, against the floor.

For a few exercises per language (the first ones whose reference resolves), each
round times, alternately, (a) the real grader (`PolyglotBenchmark.grade`: a fresh sandbox of
the polyglot image, the files copied in, the trusted harness running the task's test command,
the report read back and parsed) on the exercise's reference, and (b) the floor: the same
test command run directly by a bare `docker run --rm` of the same image with the same
limits, the files bind-mounted. Prints, per language, both medians and their ratio (target:
<= 1.3), and the polyglot image's size.

    .venv/bin/python perf/polyglot_bench.py [--path CHECKOUT] [--per-language N] [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import Outcome, get_benchmark  # noqa: E402
from benchmarks.polyglot.batch import workspace_with  # noqa: E402
from sandbox import SandboxConfig, ensure_image, wait_for_removals  # noqa: E402

TARGET_RATIO = 1.3
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "shared" / "polyglot-benchmark"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def time_grade(suite, task, files: dict[str, str]) -> float:
    with tempfile.TemporaryDirectory(prefix="dgm-pgbench-") as tmp:
        work = write(Path(tmp), files)
        start = time.perf_counter()
        result = suite.grade(task, work, labels={"dgm.run": "polyglot-bench"})
        elapsed = time.perf_counter() - start
    if result.outcome != Outcome.RESOLVED:
        first = result.output.splitlines()[0] if result.output else ""
        print(f"  (skipped {task.id}: its reference graded {result.outcome}: {first})")
        return None
    return elapsed


def time_floor(task, files: dict[str, str], config: SandboxConfig) -> float:
    """The task's test command in a bare container: same image and limits, no grader."""
    with tempfile.TemporaryDirectory(prefix="dgm-pgfloor-") as tmp:
        write(Path(tmp), workspace_with(task, files))
        subprocess.run(["chmod", "-R", "a+rwX", tmp], check=True)
        argv = [
            "docker", "run", "--rm", "--network", "none", "--user", "1000",
            "--memory", f"{config.memory_mb}m", "--cpus", str(config.cpus),
            "--pids-limit", str(config.pids), "--read-only",
            "--tmpfs", f"/tmp:rw,exec,size={config.tmpfs_mb}m,mode=1777",
            "-v", f"{tmp}:/work", "-w", "/work", task.image, *task.grade_command,
        ]  # fmt: skip
        start = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=task.time_limit + 60)
        elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{task.id}: the floor run failed: {proc.stdout[-500:]}{proc.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--per-language", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--languages", default="cpp,go,java,javascript,rust")
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    start = time.perf_counter()
    image = ensure_image(profile="polyglot")
    built = time.perf_counter() - start
    size = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Size}}", image], capture_output=True, text=True
    ).stdout.strip()
    print(f"image {image}: {int(size) / 1e6:.0f} MB (ready in {built:.0f} s)")
    suite = get_benchmark("polyglot", path=args.path, languages=args.languages)
    config = SandboxConfig()  # the grader's limits
    print(f"{'language':<11} {'n':>3} {'grade s':>8} {'floor s':>8} {'ratio':>6}")
    worst = 0.0
    for lang in suite.languages:
        tasks = suite.tasks(lang)
        graded, floor, used = [], [], 0
        for task in tasks:  # the first exercises whose reference resolves
            if used == args.per_language:
                break
            for _ in range(args.rounds):
                seconds = time_grade(suite, task, task.reference)
                if seconds is None:
                    break
                graded.append(seconds)
                floor.append(time_floor(task, task.reference, config))
            else:
                used += 1
        g, f = statistics.median(graded), statistics.median(floor)
        worst = max(worst, g / f)
        print(f"{lang:<11} {len(graded):>3} {g:>8.2f} {f:>8.2f} {g / f:>6.2f}")
    wait_for_removals()
    verdict = "within" if worst <= TARGET_RATIO else "OVER"
    print(f"worst ratio {worst:.2f} ({verdict} the {TARGET_RATIO}x target)")


if __name__ == "__main__":
    main()
