"""The loop's own time per decision (selection, archive writes, bookkeeping), beyond the
sandbox work it launches: the workbench and executor are the tests' fakes
(tests/dgm/run/fakes.py), which answer at once, so all wall time left is the loop's.
Medians over repeats at two archive sizes.

    .venv/bin/python perf/loop_bench.py [--sizes 100,1000] [--decisions 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.dgm.run.fakes

from archive import Archive  # noqa: E402
from dgm.run.config import RunConfig  # noqa: E402
from dgm.run.lifecycle import SEED_AGENT  # noqa: E402
from tests.dgm.run.fakes import FakeRun  # noqa: E402

TASKS = [f"task-{i}" for i in range(20)]


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


def one(size: int, decisions: int, alpha: float) -> tuple[float, float, float, int]:
    """(loop ms per decision, of which packing node sources, of which taking results back
    (a child's tree unpacked), expansions made)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # The tests' fake workbench and executor: every job answers at once (a coin flip for
        # an evaluation, a valid one-line child for an expansion), through the real job
        # packing; the fake's own job work (a worker's, in a real run) is left out below.
        config = RunConfig(workers=2, budget={"evals": None})  # expansions: the default cap
        run = FakeRun(root, TASKS, config, "hgm", seed_agent=SEED_AGENT, alpha=alpha)
        try:
            grow(run.archive, size, root)
            sched = run.scheduler()
            tree, packing, finishing = sched.tree, [0.0], [0.0]
            sched.jobs.source = _timed(sched.jobs.source, packing)
            sched.jobs.finish = _timed(sched.jobs.finish, finishing)
            used = tree.n_evals
            config.budget.evals = used + decisions
            nodes_before = tree.n_nodes
            start = time.perf_counter()
            sched.run()
            wall = time.perf_counter() - start - run.executor.work_seconds
        finally:
            run.close()
        made = max((tree.n_evals - used) + (tree.n_nodes - nodes_before), 1)
        per = 1000 / made
        return wall * per, packing[0] * per, finishing[0] * per, tree.n_nodes - nodes_before


def _timed(fn: Callable[..., Any], total: list[float]) -> Callable[..., Any]:
    """`fn`, adding its wall time to total[0]: the head packs each node's tree (materialised
    from the archive, then tarred) before the node's first job, and unpacks each child."""

    def timed(*args: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            total[0] += time.perf_counter() - start

    return timed


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
            ms = [r[0] for r in runs]
            pack = statistics.median(r[1] for r in runs)
            finish = statistics.median(r[2] for r in runs)
            print(f"hgm alpha {alpha}: {size:>5} nodes: loop time per decision median "
                  f"{statistics.median(ms):.2f} ms (runs: {', '.join(f'{m:.2f}' for m in ms)}; "
                  f"of which packing sources {pack:.2f}, taking results back {finish:.2f}; "
                  f"expansions per run: {runs[0][3]} of {args.decisions})")  # fmt: skip


if __name__ == "__main__":
    main()
