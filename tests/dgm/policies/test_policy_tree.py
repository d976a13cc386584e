"""TreeState: clade statistics, untried tasks and work in flight against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from dgm.policies import INVALID, VALID, TreeState


def brute_force(parents: list[int], results: list[tuple[int, str, bool]]):
    n = len(parents)
    own_s, own_n = np.zeros(n, int), np.zeros(n, int)
    for node, _, ok in results:
        own_s[node] += ok
        own_n[node] += 1
    clade_s, clade_n = np.zeros(n, int), np.zeros(n, int)
    for node in range(n):
        anc = node
        while anc >= 0:
            clade_s[anc] += own_s[node]
            clade_n[anc] += own_n[node]
            anc = parents[anc]
    return own_s, own_n, clade_s, clade_n


def test_clade_stats_match_brute_force_after_random_ops():
    rng = np.random.default_rng(7)
    tasks = [f"t{i}" for i in range(8)]
    tree = TreeState(tasks, capacity=2)  # small: exercises growth by doubling
    parents, results = [-1], []
    for _ in range(600):
        if rng.random() < 0.2:
            parent = int(rng.integers(len(parents)))
            assert tree.add_node(parent, "valid") == len(parents)
            parents.append(parent)
        else:
            node, task = int(rng.integers(len(parents))), tasks[int(rng.integers(8))]
            ok = bool(rng.random() < 0.4)
            tree.add_result(node, task, ok)
            results.append((node, task, ok))
    own_s, own_n, clade_s, clade_n = brute_force(parents, results)
    assert tree.n_nodes == len(parents)
    assert tree.n_evals == len(results)
    np.testing.assert_array_equal(tree.own_s, own_s)
    np.testing.assert_array_equal(tree.own_n, own_n)
    np.testing.assert_array_equal(tree.clade_s, clade_s)
    np.testing.assert_array_equal(tree.clade_n, clade_n)
    np.testing.assert_array_equal(tree.parent, parents)
    counts = np.bincount(parents[1:], minlength=len(parents))
    np.testing.assert_array_equal(tree.n_children, counts)
    for node in range(len(parents)):
        assert tree.children(node) == [i for i, p in enumerate(parents) if p == node]
        done = {t for n, t, _ in results if n == node}
        assert tree.untried(node) == [t for t in tasks if t not in done]
        assert tree.n_blocked[node] == len(done)


def test_untried_excludes_tasks_in_flight_and_counts_follow():
    tree = TreeState(["a", "b", "c"])
    tree.mark_in_flight(evaluate=0, task="b")
    assert tree.untried(0) == ["a", "c"]
    assert tree.n_evals_in_flight == 1 and tree.n_in_flight == 1
    # the loop clears the flight before it records the result
    tree.clear_in_flight(evaluate=0, task="b")
    tree.add_result(0, "b", True)
    assert tree.untried(0) == ["a", "c"]
    assert tree.n_blocked[0] == 1 and tree.n_in_flight == 0
    tree.mark_in_flight(evaluate=0, task="a")
    tree.mark_in_flight(evaluate=0, task="c")
    assert not tree.has_untried()[0]
    tree.clear_in_flight(evaluate=0, task="c")  # a failed job: no result
    assert tree.untried(0) == ["c"]


def test_pending_expansions_and_status():
    tree = TreeState(["a"])
    tree.mark_in_flight(expand=0)
    tree.mark_in_flight(expand=0)
    assert tree.n_pending_expansions == 2
    child = tree.add_node(0, "invalid")
    tree.clear_in_flight(expand=0)
    assert tree.n_pending_expansions == 1
    assert tree.status[child] == INVALID and tree.status[0] == VALID
    tree.set_status(child, "valid")
    assert tree.status[child] == VALID
    with pytest.raises(ValueError):
        tree.clear_in_flight(expand=child)
    with pytest.raises(ValueError):
        tree.add_node(99)


def test_budget_fraction_is_clipped():
    tree = TreeState(["a"])
    tree.set_budget_fraction(1.7)
    assert tree.budget_fraction == 1.0
    tree.set_budget_fraction(-1)
    assert tree.budget_fraction == 0.0


def test_random_untried_is_uniform_over_untried_tasks_only():
    tasks = [f"t{i}" for i in range(10)]
    rng = np.random.default_rng(1)
    for blocked in (2, 7):  # the rejection path and the list path
        tree = TreeState(tasks)
        for t in tasks[:blocked]:
            tree.add_result(0, t, True)
        tree.mark_in_flight(evaluate=0, task=tasks[-1])
        draws = [tree.random_untried(0, rng) for _ in range(4_000)]
        free = tasks[blocked:-1]
        assert set(draws) == set(free)
        counts = np.array([draws.count(t) for t in free])
        assert np.abs(counts / len(draws) - 1 / len(free)).max() < 0.05
    for t in tree.untried(0):
        tree.mark_in_flight(evaluate=0, task=t)
    assert tree.random_untried(0, rng) is None
