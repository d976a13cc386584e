"""Baselines: `greedy` (best so far, as in STOP/SICA), `random`, and `latest` (no open-ended
archive: always build on the newest valid agent).

All three evaluate every new valid node on the same first `eval_tasks` tasks (one
denominator for all), then expand. Greedy and latest need the newest scores before they
choose, so they wait for work in flight; random does not.
"""

from __future__ import annotations

import numpy as np

from dgm.policies.actions import Evaluate, Expand, Wait
from dgm.policies.base import BasePolicy, posterior_mean, wait_or_stop
from dgm.policies.tree import VALID, TreeState


class _Baseline(BasePolicy):
    PARAMS = {"eval_tasks": 10}
    waits_for_results = True

    def check_params(self) -> None:
        n = self.params["eval_tasks"]
        self.require(n >= 1, f"eval_tasks must be >= 1, got {n}")

    def target(self) -> list[str]:
        return self.tasks[: self.params["eval_tasks"]]

    def pending_evaluation(self, tree: TreeState) -> Evaluate | None:
        """The oldest valid node still missing some of the shared tasks."""
        target = self.target()
        idx = np.flatnonzero((tree.status == VALID) & (tree.n_blocked < len(target)))
        for node in idx:
            untried = set(tree.untried(int(node)))
            tasks = tuple(t for t in target if t in untried)
            if tasks:
                return Evaluate(int(node), tasks)
        return None

    def choose_parent(self, tree: TreeState) -> int | None:
        raise NotImplementedError

    def decide(self, tree: TreeState):
        action = self.pending_evaluation(tree)
        if action is not None:
            return action
        if self.waits_for_results and tree.n_in_flight:
            return Wait()
        parent = self.choose_parent(tree)
        if parent is None:
            return wait_or_stop(tree, "no valid node to expand")
        return Expand(parent)


class GreedyPolicy(_Baseline):
    """Always expand the valid node with the best posterior mean so far."""

    name = "greedy"

    def choose_parent(self, tree: TreeState) -> int | None:
        valid = tree.status == VALID
        if not valid.any():
            return None
        score = np.where(valid, posterior_mean(tree.own_s, tree.own_n), -1.0)
        return int(score.argmax())


class RandomPolicy(_Baseline):
    """Expand a valid node drawn uniformly."""

    name = "random"
    waits_for_results = False

    def choose_parent(self, tree: TreeState) -> int | None:
        idx = np.flatnonzero(tree.status == VALID)
        return int(self.rng.choice(idx)) if idx.size else None


class LatestPolicy(_Baseline):
    """Expand the newest valid node; the final agent is the newest evaluated one."""

    name = "latest"

    def choose_parent(self, tree: TreeState) -> int | None:
        idx = np.flatnonzero(tree.status == VALID)
        return int(idx[-1]) if idx.size else None

    def final_agent(self, tree: TreeState) -> int:
        idx = np.flatnonzero((tree.status == VALID) & (tree.own_n > 0))
        return int(idx[-1]) if idx.size else 0
