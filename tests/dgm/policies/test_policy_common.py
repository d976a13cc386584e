"""Every policy through the same fixtures: legality, Wait/Stop, resume, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dgm.policies import (
    POLICIES,
    ActionResult,
    Evaluate,
    Expand,
    PolicyError,
    Stop,
    TreeState,
    Wait,
    make_policy,
)
from dgm.policysim import Landscape
from tests.dgm.policies.policy_helpers import TASKS, step


def test_policy_names():
    assert sorted(POLICIES) == ["dgm", "greedy", "hgm", "latest", "random"]


@pytest.mark.parametrize("name", POLICIES)
def test_first_action_evaluates_the_seed(name):
    action = make_policy(name, 0, tasks=TASKS).next_action(TreeState(TASKS))
    assert isinstance(action, Evaluate) and action.node == 0
    assert action.tasks and set(action.tasks) <= set(TASKS)


@pytest.mark.parametrize("name", POLICIES)
def test_actions_are_legal_over_a_run(name):
    """Never expand or evaluate an invalid node; never re-evaluate a tried task."""
    tree, land = TreeState(TASKS), Landscape("rugged", 3, len(TASKS))
    policy = make_policy(name, 3, tasks=TASKS, **({"stages": (4, 8)} if name == "dgm" else {}))
    for _ in range(300):
        action = policy.next_action(tree)
        if isinstance(action, Expand):
            assert tree.status[action.parent] == 0
        elif isinstance(action, Evaluate):
            assert tree.status[action.node] == 0
            assert set(action.tasks) <= set(tree.untried(action.node))
            assert len(set(action.tasks)) == len(action.tasks)
        else:
            break
        _redo(policy, tree, land, action)
    assert tree.n_nodes > 3 and (tree.status == 1).any()  # invalid children did occur
    final = policy.final_agent(tree)
    assert tree.status[final] == 0 and tree.own_n[final] > 0


def _redo(policy, tree, land, action):
    """Carry out `action` (already asked for) as the simulator would."""
    if isinstance(action, Expand):
        child, valid = land.expand(action.parent)
        tree.add_node(action.parent, "valid" if valid else "invalid")
        policy.tell(action, ActionResult(child=child, child_valid=valid))
    else:
        res = {t: land.evaluate(action.node, tree.task_index[t]) for t in action.tasks}
        for t, ok in res.items():
            tree.add_result(action.node, t, ok)
        policy.tell(action, ActionResult(successes=res))


@pytest.mark.parametrize("name", POLICIES)
def test_stop_when_nothing_can_be_done_wait_when_work_is_in_flight(name):
    tree = TreeState(["t0"])
    tree.set_status(0, "invalid")
    policy = make_policy(name, 0, tasks=["t0"])
    assert isinstance(policy.next_action(tree), Stop)
    tree.mark_in_flight(evaluate=0, task="t0")
    assert isinstance(make_policy(name, 0, tasks=["t0"]).next_action(tree), Wait)


@pytest.mark.parametrize("name", POLICIES)
def test_state_dict_round_trip_continues_the_same_stream(name):
    def prefix():
        tree, land = TreeState(TASKS), Landscape("smooth", 8, len(TASKS))
        policy = make_policy(name, 8, tasks=TASKS)
        for _ in range(40):
            step(policy, tree, land)
        return policy, tree, land

    policy, tree, land = prefix()
    saved = json.loads(json.dumps(policy.state_dict()))
    expected = [step(policy, tree, land) for _ in range(60)]
    tail_rng = policy.rng.random()

    _, tree2, land2 = prefix()
    resumed = make_policy(name, 999, tasks=TASKS)  # another seed: the state must win
    resumed.load_state_dict(saved)
    assert [step(resumed, tree2, land2) for _ in range(60)] == expected
    assert resumed.rng.random() == tail_rng
    np.testing.assert_array_equal(tree.own_s, tree2.own_s)


@pytest.mark.parametrize("name", POLICIES)
def test_state_of_another_policy_is_refused(name):
    other = "hgm" if name != "hgm" else "dgm"
    state = make_policy(other, 0, tasks=TASKS).state_dict()
    with pytest.raises(PolicyError):
        make_policy(name, 0, tasks=TASKS).load_state_dict(state)


@pytest.mark.parametrize("name", POLICIES)
def test_unknown_parameter_is_one_line_policy_error(name):
    with pytest.raises(PolicyError) as err:
        make_policy(name, 0, tasks=TASKS, no_such_param=1)
    assert err.value.exit_code == 2
    assert "no_such_param" in str(err.value) and "\n" not in str(err.value)


def test_unknown_policy():
    with pytest.raises(PolicyError, match="unknown policy 'nope'"):
        make_policy("nope", 0, tasks=TASKS)


@pytest.mark.parametrize("name", POLICIES)
def test_same_seed_same_run(name):
    logs = []
    for _ in range(2):
        tree, land = TreeState(TASKS), Landscape("mismatch", 4, len(TASKS))
        policy, log = make_policy(name, 4, tasks=TASKS), []
        for _ in range(80):
            step(policy, tree, land, log)
        logs.append(log)
    assert logs[0] == logs[1]


@pytest.mark.parametrize("name", POLICIES)
def test_no_tasks_is_a_policy_error(name):
    with pytest.raises(PolicyError, match="at least one task"):
        make_policy(name, 0, tasks=[])
