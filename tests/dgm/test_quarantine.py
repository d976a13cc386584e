"""Quarantine end to end below the loop: a tampered evaluation recorded through the archive
API holds its node (auto) or makes it wait (manual); every policy then leaves it alone; a
person's `dgm approve` / `dgm reject`, run as a separate process while the run is held by
this one, reaches the policy at its next decision; every decision is an event."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from archive import Archive
from dgm.policies import POLICIES, QUARANTINED, VALID, TreeState, make_policy
from dgm.run.config import RunConfig
from dgm.run.lifecycle import rebuild_tree
from dgm.run.rundir import RunDir, RunLock

TASKS = [f"t{i}" for i in range(6)]


def make_run(root: Path, mode: str) -> tuple[RunDir, Archive]:
    """A run directory (config + archive) with nodes 0 -> {1, 2}, 0 -> 3 (invalid); node 1
    scores best (3/3), node 2 scores 1/3, the seed 1/3."""
    run = RunDir(root)
    root.mkdir(parents=True)
    run.config_file.write_text(RunConfig(name=root.name, quarantine=mode).to_toml())
    run.logs.mkdir()
    seed = root.parent / f"{root.name}-seed"
    seed.mkdir()
    (seed / "agent.py").write_text("print('seed')\n")
    archive = Archive.create(root, seed)
    archive.set_quarantine_mode(mode)
    for status in ("valid", "valid", "invalid"):
        archive.add_child(0, diff="", status=status)
    for node, wins in ((0, 1), (1, 3), (2, 1)):
        for i in range(3):
            archive.record_evaluation(node, "b", TASKS[i], "resolved" if i < wins else "unresolved")
    return run, archive


def dgm_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "dgm", *args], capture_output=True, text=True,
                          env=env, timeout=120)  # fmt: skip


def tamper(archive: Archive, tree: TreeState, node: int, task: str = "t4") -> None:
    """What the loop does with a tampered result: record it, then tell the tree."""
    archive.record_evaluation(node, "b", task, "tampered", reason=f"{task}: exit before report")
    tree.add_result(node, task, False)


def never_chosen(tree: TreeState, node: int) -> None:
    """No policy picks `node` as a parent, for an evaluation, or as the final agent."""
    for name in POLICIES:
        policy = make_policy(name, 7, tasks=TASKS)
        assert policy.final_agent(tree) != node, name
        if name == "dgm":
            policy.archive = list(range(tree.n_nodes))
            idx, _ = policy.parent_probabilities(tree)
            assert node not in idx.tolist()
            continue
        if name == "hgm":
            assert all(policy.choose_parent(tree) != node for _ in range(300))
            assert all(policy.choose_evaluation(tree).node != node for _ in range(300))
            continue
        assert all(policy.choose_parent(tree) != node for _ in range(50)), name
        pending = policy.pending_evaluation(tree)
        assert pending is None or pending.node != node, name


def test_auto_a_tampered_result_holds_the_node_for_every_policy(tmp_path: Path):
    _, archive = make_run(tmp_path / "run", "auto")
    tree = TreeState.from_archive(archive, TASKS)
    greedy = make_policy("greedy", 0, tasks=TASKS, eval_tasks=3)
    assert greedy.next_action(tree).parent == 1  # the best node, before it tampers
    tamper(archive, tree, 1)
    greedy.next_action(tree)  # refreshes the tree from the archive's decisions
    assert tree.status[1] == QUARANTINED and tree.quarantine(1) == "quarantined"
    never_chosen(tree, 1)
    # the quarantined node and the invalid one are both bad nodes of the root's clade
    assert tree.clade_bad[0] == 2 and tree.clade_bad[1] == 1 and tree.clade_bad[2] == 0
    [event] = archive.events("quarantine")
    assert event.data["node"] == 1 and "exit before report" in event.data["evidence"]
    # a resume rebuilds the same view from the archive alone
    again = rebuild_tree(Archive.open(archive.run_dir), TASKS)
    assert again.status[1] == QUARANTINED and again.clade_bad[0] == 2
    assert list(again.own_n) == list(tree.own_n) and list(again.own_s) == list(tree.own_s)


def test_off_tampered_is_only_a_failure(tmp_path: Path):
    _, archive = make_run(tmp_path / "run", "off")
    tree = TreeState.from_archive(archive, TASKS)
    for task in ("t3", "t4", "t5"):
        tamper(archive, tree, 1, task)
    greedy = make_policy("greedy", 0, tasks=TASKS, eval_tasks=3)
    greedy.next_action(tree)
    assert tree.status[1] == VALID and tree.quarantine(1) is None
    assert (tree.own_s[1], tree.own_n[1]) == (3, 6)  # three failures more
    assert archive.events("quarantine") == []


def test_manual_waits_and_a_cli_decision_reaches_the_live_policy(tmp_path: Path):
    run, archive = make_run(tmp_path / "run", "manual")
    with RunLock(run):  # this process drives the run; the CLI is another process
        tree = rebuild_tree(archive, TASKS)
        greedy = make_policy("greedy", 0, tasks=TASKS, eval_tasks=3)
        tamper(archive, tree, 1)
        tamper(archive, tree, 2)
        assert greedy.next_action(tree).parent == 0  # 1 and 2 wait; the run goes on
        assert tree.status[1] == tree.status[2] == QUARANTINED

        status = dgm_cli("status", str(run.root))
        assert status.returncode == 0, status.stderr
        assert "running (pid" in status.stdout
        assert "waiting for a decision" in status.stdout
        assert f"dgm approve {run.run_id} 1" in status.stdout
        assert "2 of 11 evaluations (tamper rate 0.18)" in status.stdout

        approved = dgm_cli("approve", str(run.root), "1", "--note", "grader false alarm")
        assert approved.returncode == 0, approved.stderr
        assert "approved node 1" in approved.stdout
        rejected = dgm_cli("reject", str(run.root), "2")
        assert rejected.returncode == 0, rejected.stderr

        assert greedy.next_action(tree).parent == 1  # approved: the best parent again
        assert tree.status[1] == VALID and tree.status[2] == QUARANTINED
        never_chosen(tree, 2)
        assert tree.clade_bad[0] == 2  # node 2 (rejected) and node 3 (invalid)
    kinds = [(e.kind, e.data.get("node"), e.data.get("state")) for e in archive.events()
             if e.kind in ("quarantine", "approve", "reject")]  # fmt: skip
    assert kinds == [("quarantine", 1, "waiting"), ("quarantine", 2, "waiting"),
                     ("approve", 1, "approved"), ("reject", 2, "rejected")]  # fmt: skip
    assert archive.events("approve")[0].data["note"] == "grader false alarm"
    assert archive.check() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["approve", "{run}", "1"], "node 1 is not waiting for a decision (it was never"),
        (["reject", "{run}", "9"], "unknown node 9"),
        (["approve", "{missing}", "1"], "no run"),
    ],
)
def test_decision_errors_are_one_line_and_exit_2(tmp_path: Path, args, message):
    run, _ = make_run(tmp_path / "run", "manual")
    argv = [a.format(run=run.root, missing=tmp_path / "nope") for a in args]
    proc = dgm_cli(*argv)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr


def test_a_second_approval_is_refused(tmp_path: Path):
    run, archive = make_run(tmp_path / "run", "auto")
    archive.record_evaluation(2, "b", "t4", "tampered")
    assert dgm_cli("approve", str(run.root), "2").returncode == 0
    again = dgm_cli("approve", str(run.root), "2")
    assert again.returncode == 2 and "already approved" in again.stderr


def test_tree_state_counts_bad_nodes_incrementally():
    tree = TreeState(TASKS)
    a = tree.add_node(0)
    b = tree.add_node(a, "invalid")
    c = tree.add_node(a)
    assert list(tree.clade_bad) == [1, 1, 1, 0]
    tree.set_quarantine(c, "waiting")
    assert list(tree.clade_bad) == [2, 2, 1, 1] and tree.status[c] == QUARANTINED
    tree.set_quarantine(c, "approved")
    assert list(tree.clade_bad) == [1, 1, 1, 0] and tree.status[c] == VALID
    tree.set_quarantine(b, "rejected")  # invalid and held: still one bad node
    assert list(tree.clade_bad) == [1, 1, 1, 0]
    tree.set_quarantine(9, "quarantined")  # read before its node exists: applied on add
    for _ in range(6):
        tree.add_node(c)  # nodes 4..9
    assert tree.status[9] == QUARANTINED and tree.quarantine(9) == "quarantined"
    assert tree.clade_bad[c] == 1 and tree.clade_bad[0] == 2
    assert int(np.sum(tree.status == QUARANTINED)) == 1


@pytest.mark.parametrize("name", POLICIES)
def test_a_run_whose_only_candidates_wait_waits_for_the_decision(name, tmp_path: Path):
    """Manual mode, every valid node held: the policy waits (the loop then polls for a
    person's decision) instead of ending the run; the decision reopens work."""
    run, archive = make_run(tmp_path / "run", "manual")
    tree = rebuild_tree(archive, TASKS)
    for node in (0, 1, 2):
        tamper(archive, tree, node)
    policy = make_policy(name, 3, tasks=TASKS)
    if name == "dgm":  # past its first generation: the seed and both children evaluated
        policy.stage_of, policy.archive = {0: 0, 1: 0, 2: 0}, [0, 1, 2]
    assert type(policy.next_action(tree)).__name__ == "Wait"
    assert tree.n_waiting == 3
    archive.reject(0)
    archive.reject(1)
    assert type(policy.next_action(tree)).__name__ == "Wait"  # node 2 still waits
    archive.approve(2)
    action = policy.next_action(tree)  # the approval reopens work, on node 2 only
    assert type(action).__name__ in ("Expand", "Evaluate")
    assert getattr(action, "parent", getattr(action, "node", None)) == 2


def test_dgm_drops_planned_stages_of_a_node_quarantined_meanwhile(tmp_path: Path):
    """dgm plans a node's next evaluation stage when the last one scores well; a node that
    tampered in between gets no further stage."""
    _, archive = make_run(tmp_path / "run", "auto")
    tree = rebuild_tree(archive, TASKS)
    policy = make_policy("dgm", 0, tasks=TASKS, stages=(3, 3), thresholds=(0.4,))
    policy.stage_of, policy.archive = {0: 0}, [0]
    policy._evaluate_stage(1, 1)  # node 1 passed stage 0 (3/3): stage 1 is planned
    policy._evaluate_stage(2, 1)
    tamper(archive, tree, 1)
    first = policy.next_action(tree)
    assert first.node == 2 and policy.queue == []
