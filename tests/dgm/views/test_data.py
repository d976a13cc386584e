"""The numbers every view derives: scores, final agent, paths, curve, layout."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from archive import Archive
from dgm.views import Snapshot, ViewError, progress_curve, scores_by_depth, tree_layout


def _snap(small_run) -> Snapshot:
    return Snapshot.from_archive(Archive.open(small_run.root))


def test_scores_depths_and_best(small_run):
    snap = _snap(small_run)
    assert [snap.nodes[i].depth for i in range(5)] == [0, 1, 1, 2, 2]
    assert (snap.nodes[3].successes, snap.nodes[3].trials) == (3, 4)
    assert snap.nodes[2].score is None
    assert snap.min_trials() == 3
    assert snap.final_agent() == 3  # the run finished naming node 3
    assert snap.path_to(3) == [0, 1, 3]
    assert snap.joining_path(3, 2) == ([3, 1, 0, 2], 0)
    assert snap.joining_path(4, 1) == ([4, 1], 1)
    with pytest.raises(ViewError, match="no node 99"):
        snap.node(99)


def test_results_only_matches_the_evaluations(small_run):
    archive = Archive.open(small_run.root)
    full, light = Snapshot.from_archive(archive), Snapshot.results_only(archive)
    for node_id, row in full.nodes.items():
        assert (light.nodes[node_id].successes, light.nodes[node_id].trials) == (
            row.successes,
            row.trials,
        )
    assert light.nodes[0].clade == (6, 11)
    assert light.final_agent() == full.final_agent() == 3


def test_progress_curve_counts_nodes_once_they_have_enough_results(small_run):
    snap = _snap(small_run)
    curve = progress_curve(snap)
    assert curve.evals[0] == 3  # the seed's third result makes it count
    assert curve.best[0] == pytest.approx(1 / 3)
    assert curve.evals[-1] == len(snap.evaluations) == 11
    assert curve.best[-1] == 0.75
    assert curve.mean[-1] == pytest.approx((1 / 3 + 2 / 3 + 3 / 4) / 3)
    assert curve.dollars == sorted(curve.dollars)
    assert curve.dollars[-1] == pytest.approx(0.11)


def test_best_drops_when_the_leader_fails_again():
    nodes = [NS(id=0, parent=None, status="valid"), NS(id=1, parent=0, status="valid")]
    plan = [(0, "resolved")] * 3 + [(1, "resolved"), (1, "resolved"), (1, "unresolved")]
    plan += [(0, "unresolved"), (0, "unresolved")]
    ev = [NS(node=n, task="t", outcome=o, cost=1.0, created=i) for i, (n, o) in enumerate(plan)]
    curve = progress_curve(Snapshot.from_records(nodes, ev))
    assert curve.evals == [3, 4, 5, 6, 7, 8]  # from the first node with 3 results
    assert curve.best == pytest.approx([1.0, 1.0, 1.0, 1.0, 0.75, 2 / 3])
    assert curve.mean[-1] == pytest.approx((0.6 + 2 / 3) / 2)
    assert curve.dollars == [3.0, 4.0, 5.0, 6.0, 7.0, 8.0]  # no ledger: the evaluations' cost


def test_scores_by_depth(small_run):
    by_depth = scores_by_depth(_snap(small_run))
    assert by_depth[0] == [pytest.approx(1 / 3)]
    assert sorted(by_depth[2]) == [0.0, 0.75]


def test_layout_centres_parents_over_children():
    nodes = [NS(id=i, parent=p, status="valid") for i, p in
             [(0, None), (1, 0), (2, 0), (3, 1), (4, 1), (5, 2)]]  # fmt: skip
    pos = tree_layout(Snapshot.from_records(nodes, []))
    assert pos[3] == (0.0, 2) and pos[4] == (1.0, 2) and pos[5] == (2.0, 2)
    assert pos[1] == (0.5, 1) and pos[2] == (2.0, 1)
    assert pos[0] == (1.25, 0)


def test_layout_of_a_deep_chain_does_not_recurse():
    nodes = [NS(id=0, parent=None, status="valid")]
    nodes += [NS(id=i, parent=i - 1, status="valid") for i in range(1, 5000)]
    pos = tree_layout(Snapshot.from_records(nodes, []))
    assert pos[4999] == (0.0, 4999)
