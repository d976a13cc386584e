"""hgm: the expand-or-evaluate rule, Thompson sampling frequencies, cool-down, final agent."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dgm.policies import (
    Evaluate,
    Expand,
    Stop,
    TreeState,
    Wait,
    beta_lower_quantile,
    cooldown_tau,
    make_policy,
)
from tests.dgm.policies.policy_helpers import CHI2_CRIT_001, TASKS, build_tree, chi_square

# (parent, own successes, own trials); node 4 is invalid
SHAPE = [(-1, 1, 4), (0, 3, 5), (1, 0, 3), (0, 0, 0), (0, 2, 2), (0, 2, 3), (5, 1, 6)]


def argmax_probabilities(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """P(draw i is the largest) for independent Beta(a_i, b_i), by numerical integration."""
    x = (np.arange(40_000) + 0.5) / 40_000
    dx = 1 / 40_000
    pdf = np.array([
        np.exp((ai - 1) * np.log(x) + (bi - 1) * np.log1p(-x)
               - (math.lgamma(ai) + math.lgamma(bi) - math.lgamma(ai + bi)))
        for ai, bi in zip(a, b, strict=True)
    ])  # fmt: skip
    cdf = np.cumsum(pdf, axis=1) * dx
    out = []
    for i in range(len(a)):
        others = np.prod(np.delete(cdf, i, axis=0), axis=0)
        out.append(float((pdf[i] * others).sum() * dx))
    return np.array(out)


@pytest.mark.parametrize("penalty", [1.0, 0.0, 3.0])
def test_parent_frequencies_follow_clade_thompson_sampling(penalty):
    """Invalid node 4 is a failure of its ancestor 0's clade, `penalty` times."""
    tree = build_tree(SHAPE, status={4: "invalid"})
    params = {} if penalty == 1.0 else {"invalid_child_failures": penalty}  # 1 is the default
    policy = make_policy("hgm", 123, tasks=TASKS, **params)
    cand = np.array([0, 1, 5, 6])  # valid, clade successes >= 1 (2, 3 have none; 4 invalid)
    s, n = tree.clade_s[cand], tree.clade_n[cand]
    assert list(s) == [9, 3, 3, 1] and list(n) == [23, 8, 9, 6]
    assert list(tree.clade_bad[cand]) == [1, 0, 0, 0]
    probs = argmax_probabilities(1.0 + s, 1.0 + n - s + penalty * tree.clade_bad[cand])
    draws = [policy.choose_parent(tree) for _ in range(20_000)]
    assert set(draws) <= set(cand.tolist())
    counts = np.array([draws.count(int(c)) for c in cand])
    assert chi_square(counts, probs) < CHI2_CRIT_001[len(cand) - 1]


def test_evaluation_frequencies_follow_own_thompson_sampling_and_tasks_are_untried():
    tree = build_tree(SHAPE, status={4: "invalid"})
    policy = make_policy("hgm", 5, tasks=TASKS)
    cand = np.array([0, 1, 2, 3, 5, 6])  # every valid node has untried tasks
    s, n = tree.own_s[cand], tree.own_n[cand]
    probs = argmax_probabilities(1.0 + s, 1.0 + n - s)
    counts = dict.fromkeys(cand.tolist(), 0)
    for _ in range(20_000):
        action = policy.choose_evaluation(tree)
        assert len(action.tasks) == 1 and action.tasks[0] in tree.untried(action.node)
        counts[action.node] += 1
    observed = np.array([counts[int(c)] for c in cand])
    assert chi_square(observed, probs) < CHI2_CRIT_001[len(cand) - 1]


@pytest.mark.parametrize(
    ("n_evals", "pending", "expect_expand"),
    [(0, 0, False), (6, 0, False), (7, 0, True), (7, 1, False), (10, 1, False), (11, 1, True)],
)
def test_expand_or_evaluate_rule(n_evals, pending, expect_expand):
    # 3 nodes, alpha 0.6: expand iff n_evals ** 0.6 >= 3 + pending expansions, i.e.
    # n_evals >= 3 ** (1 / 0.6) = 6.24 with none pending, >= 4 ** (1 / 0.6) = 10.08 with one.
    tree = TreeState(TASKS)
    tree.add_node(0)
    tree.add_node(0)
    for i in range(n_evals):
        tree.add_result(i % 3, TASKS[i // 3], True)
    for _ in range(pending):
        tree.mark_in_flight(expand=0)
    policy = make_policy("hgm", 0, tasks=TASKS, alpha=0.6)
    assert policy.wants_expansion(tree) == expect_expand
    action = policy.next_action(tree)
    assert isinstance(action, Expand if expect_expand else Evaluate)


def test_alpha_changes_the_rule():
    tree = TreeState(TASKS)
    for i in range(4):
        tree.add_node(0)
        tree.add_result(i, TASKS[0], True)
    assert make_policy("hgm", 0, tasks=TASKS, alpha=1.0).wants_expansion(tree) is False
    tree.add_result(4, TASKS[0], True)  # 5 evals, 5 nodes
    assert make_policy("hgm", 0, tasks=TASKS, alpha=1.0).wants_expansion(tree) is True
    assert make_policy("hgm", 0, tasks=TASKS, alpha=0.5).wants_expansion(tree) is False


def test_parent_falls_back_to_root_without_successes_and_stops_when_root_invalid():
    tree = TreeState(TASKS)
    tree.add_result(0, "t0", False)
    policy = make_policy("hgm", 0, tasks=TASKS)
    assert policy.choose_parent(tree) == 0
    dead = TreeState(["t0"])
    dead.set_status(0, "invalid")
    assert isinstance(policy.next_action(dead), Stop)
    dead.mark_in_flight(evaluate=0, task="t0")
    assert isinstance(policy.next_action(dead), Wait)


def test_cooldown_shrinks_variance_keeps_mean():
    assert cooldown_tau(0.0, 0.9) == 1.0
    assert cooldown_tau(1.0, 0.9) == pytest.approx(10.0)
    assert cooldown_tau(2.0, 0.5) == pytest.approx(4.0)
    tree = build_tree([(-1, 3, 9)])
    policy = make_policy("hgm", 3, tasks=TASKS, beta=1.0)
    s, n = np.full(40_000, 3.0), np.full(40_000, 9.0)
    a, b = 4.0, 7.0
    for spent in (0.0, 0.9):
        tree.set_budget_fraction(spent)
        tau = policy.tau(tree)
        x = policy.draw(s, n, tau)
        var = (tau * a) * (tau * b) / ((tau * (a + b)) ** 2 * (tau * (a + b) + 1))
        assert x.mean() == pytest.approx(a / (a + b), abs=0.005)
        assert x.var() == pytest.approx(var, rel=0.05)
    assert policy.tau(tree) == pytest.approx(10.0)


def test_final_agent_is_lower_quantile_not_mean():
    # node 1: 3/3 (posterior mean 0.80, wide); node 2: 45/60 (mean 0.74, narrow)
    tree = build_tree([(-1, 0, 0), (0, 3, 3), (0, 45, 60)])
    policy = make_policy("hgm", 0, tasks=[f"t{i}" for i in range(60)])
    assert policy.final_agent(tree) == 2
    assert make_policy("greedy", 0, tasks=TASKS).final_agent(tree) == 1  # mean picks 1
    # the normal approximation is close to the sampled Beta quantile
    rng = np.random.default_rng(0)
    for s, n in [(3, 3), (45, 60), (1, 10)]:
        approx = beta_lower_quantile(np.array([s]), np.array([n]), 0.1)[0]
        sampled = np.quantile(rng.beta(1 + s, 1 + n - s, 200_000), 0.1)
        assert approx == pytest.approx(sampled, abs=0.04)
    tree.set_status(2, "invalid")
    assert policy.final_agent(tree) == 1
