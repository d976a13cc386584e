"""Shared helpers for the policy tests: a tiny sequential driver on a seeded landscape."""

from __future__ import annotations

import numpy as np

from dgm.policies import ActionResult, Evaluate, Expand, TreeState
from dgm.policysim import Landscape

TASKS = [f"t{i}" for i in range(12)]

# Chi-square critical values at p = 0.001 by degrees of freedom (standard table), so a
# correct sampler fails a test with the fixed seed only by a 1-in-1000 accident.
CHI2_CRIT_001 = {1: 10.828, 2: 13.816, 3: 16.266, 4: 18.467, 5: 20.515, 6: 22.458,
                 7: 24.322, 8: 26.124, 9: 27.877, 10: 29.588}  # fmt: skip


def chi_square(counts: np.ndarray, probs: np.ndarray) -> float:
    expected = probs * counts.sum()
    return float(((counts - expected) ** 2 / expected).sum())


def step(policy, tree: TreeState, land: Landscape, log: list | None = None):
    """Ask for one action and do it at once; returns the action."""
    action = policy.next_action(tree)
    if log is not None:
        log.append(action)
    if isinstance(action, Expand):
        child, valid = land.expand(action.parent)
        node = tree.add_node(action.parent, "valid" if valid else "invalid")
        assert node == child
        policy.tell(action, ActionResult(child=node, child_valid=valid))
    elif isinstance(action, Evaluate):
        successes = {}
        for task in action.tasks:
            ok = land.evaluate(action.node, tree.task_index[task])
            tree.add_result(action.node, task, ok)
            successes[task] = ok
        policy.tell(action, ActionResult(successes=successes))
    return action


def build_tree(own: list[tuple[int, int, int]], status: dict[int, str] | None = None):
    """A tree from (parent, successes, trials) per non-root node; root given as parent -1."""
    tree = TreeState(TASKS)
    status = status or {}
    for i, (parent, s, n) in enumerate(own):
        node = 0 if parent < 0 else tree.add_node(parent, status.get(i, "valid"))
        for k in range(n):
            tree.add_result(node, TASKS[k % len(TASKS)], k < s)
    if 0 in status:
        tree.set_status(0, status[0])
    return tree
