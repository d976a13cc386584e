"""Throughput of `dgm eval`, and the seed agent against a "test and retry" variant.

    .venv/bin/python perf/eval_bench.py              # evaluations/min vs the docker-run ceiling
    .venv/bin/python perf/eval_bench.py --compare    # seed vs variant resolved rates (sim)

Throughput: `dgm eval` of the seed agent on humaneval `small` with `sim`, at 1 and 2 workers,
against the bare cost of the same number of `docker run` pairs (one for the agent, one for
grading) at the same concurrency, in the same script. Medians over --repeats runs.

Compare: the seed agent and the seed with the catalogue change `test_before_finish` applied
(its system prompt tells the model to run the visible check and fix failures) on humaneval
`small` with `sim` at its default fault rate, over several seeds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from rich.console import Console  # noqa: E402

from dgm.fm.sim.catalogue import load_catalogue  # noqa: E402
from dgm.run.eval_agent import SEED_AGENT, run_eval  # noqa: E402
from sandbox import ensure_image  # noqa: E402

QUIET = Console(file=open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the script


def bare_pairs(image: str, pairs: int, workers: int) -> float:
    """Seconds for `pairs` x (two `docker run --rm` in a row) at `workers` concurrency."""

    def pair(_: int) -> None:
        for _ in range(2):
            subprocess.run(
                ["docker", "run", "--rm", "--network", "none", image, "python3", "-c", "pass"],
                check=True,
                capture_output=True,
            )

    start = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(pair, range(pairs)))
    return time.monotonic() - start


def eval_seconds(workers: int, out: Path, agent: str = "seed", seed: int = 0) -> tuple:
    summary = run_eval(
        agent, "humaneval", "small", model="sim", workers=workers, seed=seed, out=out,
        console=QUIET,
    )  # fmt: skip
    return summary.seconds, len(summary.results), summary.counts["resolved"]


def throughput(repeats: int) -> None:
    image = ensure_image(console=QUIET)
    print(f"humaneval small, sim, seed agent; medians of {repeats} runs")
    print(f"{'workers':>7} {'evals/min':>10} {'ceiling/min':>12} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            evals, bare = [], []
            for r in range(repeats):
                seconds, n, _ = eval_seconds(workers, Path(tmp) / f"w{workers}-{r}")
                evals.append(n / seconds * 60)
                bare.append(n / bare_pairs(image, n, workers) * 60)
            e, b = statistics.median(evals), statistics.median(bare)
            print(f"{workers:>7} {e:>10.1f} {b:>12.1f} {e / b:>6.0%}")


def variant_dir(dest: Path) -> Path:
    """The seed agent with the `test_before_finish` catalogue change applied."""
    shutil.copytree(SEED_AGENT, dest, ignore=shutil.ignore_patterns("__pycache__"))
    for edit in load_catalogue()["test_before_finish"].edits:
        path = dest / edit.file
        text = path.read_text()
        assert text.count(edit.old) == 1, f"anchor of {edit.file} not unique"
        path.write_text(text.replace(edit.old, edit.new))
    return dest


def compare(seeds: int) -> None:
    print(f"humaneval small, sim at the default fault rate, seeds 0..{seeds - 1}")
    with tempfile.TemporaryDirectory() as tmp:
        agents = {"seed": "seed", "test+retry": str(variant_dir(Path(tmp) / "variant"))}
        for name, agent in agents.items():
            resolved = total = 0
            for seed in range(seeds):
                _, n, ok = eval_seconds(2, Path(tmp) / f"{name}-{seed}", agent, seed)
                resolved, total = resolved + ok, total + n
            print(f"{name:>11}: {resolved}/{total} resolved ({resolved / total:.0%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", action="store_true", help="seed vs test+retry variant")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    if args.compare:
        compare(args.seeds)
    else:
        throughput(args.repeats)


if __name__ == "__main__":
    sys.exit(main())
