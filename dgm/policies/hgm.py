"""The Huxley-Gödel Machine policy: expand or evaluate, both by Thompson sampling.

- Expand when `n_evals ** alpha >= n_nodes + pending expansions`, else evaluate. When the
  rule says evaluate but no node has an untried task, it expands instead (a worker never idles
  while a step is possible); with neither possible it waits (work in flight) or stops.
- Expansion: the parent maximises a draw from Beta(tau (1 + S_clade), tau (1 + F_clade))
  among valid nodes whose clade has at least one success (the root when none has): clade
  statistics pool a node's own results with all its descendants' (CMP). The clade counts come
  from TreeState, which adds each result once to each ancestor; the published code's aliasing
  bug (descendants' results appended into ancestors' own lists) is not reproduced. Every
  invalid or quarantined node in the clade adds `invalid_child_failures` (default 1; 0 turns
  it off) to F_clade, as a broken child's zero score lowers its parent's clade in the
  published code: a parent that keeps producing invalid children loses its pull.
- Evaluation: the node maximises a draw from Beta(tau (1 + S_own), tau (1 + F_own)) among
  valid nodes with untried tasks; the task is uniform among its untried ones.
- Cool-down: tau = (1 / max(1 - spent, 0.01)) ** beta, with `spent` the budget fraction.
  Scaling both Beta parameters by tau keeps the mean and shrinks the variance, so sampling
  turns greedy as the budget runs out; beta = 0 (the default) turns it off.
- Final agent: the valid evaluated node with the highest `final_quantile` (0.1) quantile of
  Beta(1 + S_own, 1 + F_own), by the normal approximation mean - z * sd (deterministic).
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from dgm.policies.actions import Evaluate, Expand
from dgm.policies.base import BasePolicy, wait_or_stop
from dgm.policies.tree import VALID, TreeState


def cooldown_tau(beta: float, spent: float) -> float:
    """The factor both Beta parameters are multiplied by (1 when beta is 0)."""
    return float((1.0 / max(1.0 - spent, 0.01)) ** beta)


def beta_lower_quantile(s: np.ndarray, n: np.ndarray, q: float) -> np.ndarray:
    """Normal approximation of the q-quantile of Beta(1 + s, 1 + n - s)."""
    a, b = s + 1.0, n - s + 1.0
    mean = a / (a + b)
    sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1.0)))
    return mean + NormalDist().inv_cdf(q) * sd


class HGMPolicy(BasePolicy):
    """Huxley-Gödel Machine (asynchronous; every decision reads the tree afresh)."""

    name = "hgm"
    PARAMS = {"alpha": 0.6, "beta": 0.0, "final_quantile": 0.1, "invalid_child_failures": 1.0}

    def check_params(self) -> None:
        p = self.params
        self.require(0.0 < p["alpha"] <= 1.0, f"alpha must be in (0, 1], got {p['alpha']}")
        self.require(p["beta"] >= 0.0, f"beta must be >= 0, got {p['beta']}")
        q = p["final_quantile"]
        self.require(0.0 < q < 1.0, f"final_quantile must be in (0, 1), got {q}")
        w = p["invalid_child_failures"]
        self.require(w >= 0.0, f"invalid_child_failures must be >= 0, got {w}")

    def wants_expansion(self, tree: TreeState) -> bool:
        """The expand-or-evaluate rule, counting expansions in flight as nodes."""
        nodes = tree.n_nodes + tree.n_pending_expansions
        return tree.n_evals ** self.params["alpha"] >= nodes

    def tau(self, tree: TreeState) -> float:
        return cooldown_tau(self.params["beta"], tree.budget_fraction)

    def draw(self, s: np.ndarray, n: np.ndarray, tau: float) -> np.ndarray:
        """One draw per node from Beta(tau (1 + s), tau (1 + n - s))."""
        return self.rng.beta(tau * (1.0 + s), tau * (1.0 + n - s))

    def thompson(self, idx: np.ndarray, s: np.ndarray, n: np.ndarray, tau: float) -> int:
        """The candidate (from ids `idx`) with the highest Beta posterior draw."""
        return int(idx[int(np.argmax(self.draw(s[idx], n[idx], tau)))])

    def choose_parent(self, tree: TreeState) -> int | None:
        valid = tree.status == VALID
        idx = np.flatnonzero(valid & (tree.clade_s > 0))
        if idx.size == 0:
            return 0 if valid[0] else None
        trials = tree.clade_n + self.params["invalid_child_failures"] * tree.clade_bad
        return self.thompson(idx, tree.clade_s, trials, self.tau(tree))

    def choose_evaluation(self, tree: TreeState) -> Evaluate | None:
        idx = np.flatnonzero((tree.status == VALID) & tree.has_untried())
        if idx.size == 0:
            return None
        node = self.thompson(idx, tree.own_s, tree.own_n, self.tau(tree))
        return Evaluate(node, (tree.random_untried(node, self.rng),))

    def decide(self, tree: TreeState):
        if not self.wants_expansion(tree):
            action = self.choose_evaluation(tree)
            if action is not None:
                return action
        parent = self.choose_parent(tree)
        if parent is not None:
            return Expand(parent)
        action = self.choose_evaluation(tree)
        return action or wait_or_stop(tree, "no valid node to expand or evaluate")

    def final_agent(self, tree: TreeState) -> int:
        ok = (tree.status == VALID) & (tree.own_n > 0)
        if not ok.any():
            return 0
        q = beta_lower_quantile(tree.own_s, tree.own_n, self.params["final_quantile"])
        return int(np.where(ok, q, -np.inf).argmax())
