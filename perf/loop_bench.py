"""The loop's own time per decision (selection, archive writes, bookkeeping), beyond the
sandbox work it launches: the workbench is replaced by one that answers at once, so all
wall time left is the loop's. Medians over repeats at two archive sizes.

    .venv/bin/python perf/loop_bench.py [--sizes 100,1000] [--decisions 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from archive import Archive
from dgm.evolve.evaluate import TaskResult
from dgm.evolve.workbench import Evaluation, Expansion
from dgm.policies import TreeState, make_policy
from dgm.run.config import RunConfig
from dgm.run.lifecycle import SEED_AGENT, rebuild_tree
from dgm.run.scheduler import Scheduler

TASKS = [f"task-{i}" for i in range(20)]


class InstantBench:
    """Answers every job at once: a coin flip for an evaluation, a one-line child."""

    class benchmark:  # noqa: N801 - mimics Workbench.benchmark
        name = "bench"

    def __init__(self, archive: Archive, scratch: Path):
        self.archive, self.scratch = archive, scratch
        self.rng = np.random.default_rng(0)

    def evaluate(self, node: int, task: str, attempt: int) -> Evaluation:
        outcome = "resolved" if self.rng.random() < 0.5 else "unresolved"
        return Evaluation(node, task, TaskResult(outcome, 10, 0.0, 0.01, None))

    def expand(self, parent: int, index: int) -> Expansion:
        child = self.scratch / f"child-{index}"
        self.archive.materialize(parent, child)
        with open(child / "agent.py", "a") as f:
            f.write(f"# change {index}\n")
        return Expansion(parent, index, "bench", "bench", child, True, None, 0.0,
                         {"expansion": index})  # fmt: skip


class NoGateway:
    exhausted = False


def grow(archive: Archive, n: int, scratch: Path) -> None:
    rng = np.random.default_rng(1)
    for i in range(1, n):
        parent = int(rng.integers(0, i))
        d = scratch / f"grow-{i}"
        archive.materialize(parent, d)
        (d / "agent.py").write_text((d / "agent.py").read_text() + f"# {i}\n")
        archive.add_child(parent, files_dir=d, entry="grow", problem_statement="", meta={})
        shutil.rmtree(d)
        for t in rng.choice(TASKS, size=3, replace=False):
            outcome = str(rng.choice(["resolved", "unresolved"]))
            archive.record_evaluation(i, "bench", str(t), outcome)


def one(size: int, decisions: int, alpha: float) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        archive = Archive.create(root / "run", SEED_AGENT)
        grow(archive, size, root)
        tree: TreeState = rebuild_tree(archive, TASKS)
        used = tree.n_evals
        config = RunConfig(workers=2, budget={"evals": used + decisions})
        policy = make_policy("hgm", 0, tasks=TASKS, alpha=alpha)
        sched = Scheduler(config, archive, tree, policy, InstantBench(archive, root), NoGateway())
        nodes_before = tree.n_nodes
        start = time.perf_counter()
        sched.run()
        wall = time.perf_counter() - start
        made = (tree.n_evals - used) + (tree.n_nodes - nodes_before)
        return wall / max(made, 1) * 1000, tree.n_nodes - nodes_before


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,1000")
    ap.add_argument("--decisions", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    # hgm's default alpha (0.6) mostly evaluates at these sizes; 0.95 mostly expands, so the
    # two rows show the cost of both kinds of decision.
    for alpha in (0.6, 0.95):
        for size in (int(s) for s in args.sizes.split(",")):
            runs = [one(size, args.decisions, alpha) for _ in range(args.repeats)]
            ms = [m for m, _ in runs]
            print(f"hgm alpha {alpha}: {size:>5} nodes: loop time per decision median "
                  f"{statistics.median(ms):.2f} ms (runs: {', '.join(f'{m:.2f}' for m in ms)}; "
                  f"expansions per run: {runs[0][1]} of {args.decisions})")  # fmt: skip


if __name__ == "__main__":
    main()
