"""Policy decision speed on large trees: median microseconds per decision.

Builds random trees (each new node's parent uniform among earlier nodes, 15 % invalid) with
20 results per node on average over 60 tasks, then times hgm's decision (next_action, and
its parent and evaluation choices alone), a dgm generation draw, a greedy decision and one
`add_result` (O(depth)). Target: one hgm decision at 10,000 nodes / 200,000 results <= 2 ms.

    .venv/bin/python perf/policy_bench.py [--simulate]   (--simulate: also time the simulator)
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from functools import partial

import numpy as np

from dgm.policies import TreeState, make_policy

TASKS = [f"t{i}" for i in range(60)]


def build(n_nodes: int, n_results: int, seed: int = 0) -> TreeState:
    rng = np.random.default_rng(seed)
    tree = TreeState(TASKS)
    for i in range(1, n_nodes):
        tree.add_node(int(rng.integers(i)), "invalid" if rng.random() < 0.15 else "valid")
    nodes = rng.integers(n_nodes, size=n_results)
    tasks = rng.integers(len(TASKS), size=n_results)
    ok = rng.random(n_results) < 0.4
    for node, task, success in zip(nodes, tasks, ok, strict=True):
        tree.add_result(int(node), TASKS[task], bool(success))
    return tree


def median_us(fn, repeats: int = 300) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e6


def main() -> None:
    print(f"{'nodes':>7} {'results':>8} | median microseconds per call")
    medians: dict[str, list[float]] = {}
    for n_nodes in (1_000, 10_000):
        n_results = 20 * n_nodes
        tree = build(n_nodes, n_results)
        hgm = make_policy("hgm", 0, tasks=TASKS, beta=1.0)
        tree.set_budget_fraction(0.5)
        dgm = make_policy("dgm", 0, tasks=TASKS)
        dgm.archive = list(range(n_nodes))
        greedy = make_policy("greedy", 0, tasks=TASKS)
        deepest = int(np.argmax([len(tree.ancestors(i)) for i in range(n_nodes)]))
        rows = {
            "hgm next_action": partial(hgm.next_action, tree),
            "hgm choose_parent": partial(hgm.choose_parent, tree),
            "hgm choose_evaluation": partial(hgm.choose_evaluation, tree),
            "hgm final_agent": partial(hgm.final_agent, tree),
            "dgm choose_parents (k=2)": partial(dgm.choose_parents, tree),
            "greedy next_action": partial(greedy.next_action, tree),
            "add_result (deepest node)": partial(tree.add_result, deepest, "t0", True),
        }
        for label, fn in rows.items():
            us = median_us(fn)
            medians.setdefault(label, []).append(us)
            print(f"{n_nodes:>7} {n_results:>8} | {label:<28} {us:9.1f}")
        print(f"{'':>16} | depth of the deepest node: {len(tree.ancestors(deepest))}")
    print("growth 1,000 -> 10,000 nodes (ratio of medians):")
    for label, (small, large) in medians.items():
        print(f"  {label:<28} x{large / small:5.1f}")
    if "--simulate" in sys.argv:
        simulate_timing()


def simulate_timing() -> None:
    """The issue's target: 200 seeds x 5 policies x 800 evaluations under 60 s."""
    from dgm.policysim import SimConfig, run_all

    cfg = SimConfig(policies=["dgm", "hgm", "greedy", "random", "latest"], budget=800, seeds=200)
    jobs = os.cpu_count() or 1
    t = time.perf_counter()
    run_all(cfg, jobs=jobs)
    print(f"simulate 200 seeds x 5 policies x 800 evals ({jobs} processes): "
          f"{time.perf_counter() - t:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
