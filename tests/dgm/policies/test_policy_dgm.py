"""dgm: parent probabilities, staged evaluation, generations, archive rules, `best` mode."""

from __future__ import annotations

import numpy as np
import pytest

from dgm.policies import ActionResult, Evaluate, Expand, PolicyError, Wait, make_policy
from tests.dgm.policies.policy_helpers import CHI2_CRIT_001, TASKS, build_tree, chi_square

# (parent, successes, trials): node 2 is a 10-task node, node 3 a 60-task-like node
SHAPE = [(-1, 4, 10), (0, 6, 10), (0, 1, 10), (1, 9, 12), (1, 0, 0), (0, 8, 10)]


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_parent_probabilities_match_the_formula():
    tree = build_tree(SHAPE)
    policy = make_policy("dgm", 0, tasks=TASKS)
    policy.archive = [0, 1, 2, 3, 4, 5]
    idx, p = policy.parent_probabilities(tree)
    assert idx.tolist() == [0, 1, 2, 3, 5]  # node 4 has no results
    score = np.array([5 / 12, 7 / 12, 2 / 12, 10 / 14, 9 / 12])  # posterior means
    children = np.array([3, 2, 0, 0, 0])
    w = sigmoid(10 * (score - 0.5)) / (1 + children)
    np.testing.assert_allclose(p, w / w.sum())


def test_sampled_parents_pass_chi_square_against_the_distribution():
    tree = build_tree(SHAPE)
    policy = make_policy("dgm", 11, tasks=TASKS, k=4)
    policy.archive = [0, 1, 2, 3, 5]
    idx, p = policy.parent_probabilities(tree)
    draws = np.concatenate([policy.choose_parents(tree) for _ in range(5_000)])
    counts = np.array([(draws == i).sum() for i in idx])
    assert counts.sum() == 20_000
    assert chi_square(counts, p) < CHI2_CRIT_001[len(idx) - 1]


def test_best_mode_picks_the_best_not_the_worst():
    tree = build_tree(SHAPE)
    policy = make_policy("dgm", 0, tasks=TASKS, selection="best", k=3)
    policy.archive = [0, 1, 2, 3, 5]
    assert policy.choose_parents(tree) == [5, 3, 1]  # 0.75, 0.714, 0.583
    policy.params["k"] = 1
    assert policy.choose_parents(tree) == [5]


def test_only_valid_archive_nodes_are_parents():
    tree = build_tree(SHAPE, status={5: "invalid"})
    policy = make_policy("dgm", 0, tasks=TASKS, k=50)
    policy.archive = [0, 3, 5]
    assert set(policy.choose_parents(tree)) <= {0, 3}


def test_staged_evaluation_and_generations():
    tasks = [f"t{i}" for i in range(8)]
    tree = build_tree([(-1, 0, 0)])
    policy = make_policy("dgm", 0, tasks=tasks, k=2, stages=(3, 5), thresholds=(0.5,))
    first = policy.next_action(tree)
    assert first == Evaluate(0, ("t0", "t1", "t2"))
    assert isinstance(policy.next_action(tree), Wait)  # stage 1 waits for stage 0
    policy.tell(first, ActionResult(successes={"t0": True, "t1": True, "t2": False}))
    second = policy.next_action(tree)  # 2/3 > 0.5: the next stage
    assert second == Evaluate(0, ("t3", "t4", "t5", "t6", "t7"))
    policy.tell(second, ActionResult(successes=dict.fromkeys(second.tasks, False)))
    for t in tasks[:5]:
        tree.add_result(0, t, t in ("t0", "t1"))
    gen = [policy.next_action(tree), policy.next_action(tree)]
    assert gen == [Expand(0), Expand(0)]
    assert isinstance(policy.next_action(tree), Wait)  # the generation is synchronous
    child = tree.add_node(0)
    policy.tell(gen[0], ActionResult(child=child, child_valid=True))
    policy.tell(gen[1], ActionResult(child=None, child_valid=False))
    ev = policy.next_action(tree)
    assert ev == Evaluate(child, ("t0", "t1", "t2"))
    policy.tell(ev, ActionResult(successes={"t0": False, "t1": True, "t2": False}))
    # 1/3 is not above 0.5: no second stage; the generation closes, the next one starts
    assert isinstance(policy.next_action(tree), Expand)
    assert policy.archive == [0, child] and policy.generation == 2


@pytest.mark.parametrize(("rule", "kept"), [("keep_all", True), ("keep_better", False)])
def test_archive_rules(rule, kept):
    tree = build_tree([(-1, 8, 10), (0, 1, 10)])  # child far below the seed
    policy = make_policy("dgm", 0, tasks=TASKS, archive=rule, noise_leeway=0.1)
    policy.stage_of[0] = 1
    policy.children = [1]
    policy.next_action(tree)
    assert (1 in policy.archive) is kept


def test_keep_better_keeps_a_child_within_the_leeway():
    tree = build_tree([(-1, 8, 10), (0, 7, 10)])  # 8/12 vs 9/12 posterior: within 0.1
    policy = make_policy("dgm", 0, tasks=TASKS, archive="keep_better", noise_leeway=0.1)
    policy.stage_of[0] = 1
    policy.children = [1]
    policy.next_action(tree)
    assert 1 in policy.archive


@pytest.mark.parametrize(
    "params",
    [{"k": 0}, {"selection": "worst"}, {"stages": (10, 50), "thresholds": ()},
     {"archive": "keep_some"}, {"k": "many"}],
)  # fmt: skip
def test_bad_params_raise_policy_error(params):
    with pytest.raises(PolicyError) as err:
        make_policy("dgm", 0, tasks=TASKS, **params)
    assert err.value.exit_code == 2 and "\n" not in str(err.value)
