"""Resume: a run killed with work in flight continues from exactly what was committed.

The scheduler's in-flight work is groups of two kinds: an expansion (one job; the child's
validation runs inside it, so there is no separate validation group) and an evaluation
(one job per task). Each is killed here in flight, and in the window where its result was
committed but the loop state not yet saved; the resume must run every uncommitted job
once and never run a committed one again. (The final evaluation is not the scheduler's:
it belongs to `dgm.run.lifecycle`.)

A kill is `Killed` (a BaseException, as Ctrl-C) raised into the scheduler's thread as one
job's result arrives; `HANG` keeps another job running at that moment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.dgm.run.fakes import HANG, KILL, FakeRun, Killed
from tests.dgm.run.test_scheduler import evaluated, expansions

pytestmark = pytest.mark.timeout(120)

MakeRun = Callable[..., FakeRun]


def outcomes(run: FakeRun, kind: str, key) -> list[str]:
    return [o for *_, o in run.bench.runs(kind, key)]


def in_flight(run: FakeRun) -> list[tuple]:
    return [(j["kind"], j["node"], j["task"] if j["kind"] == "evaluate" else j["index"])
            for j in run.in_flight()]  # fmt: skip


def commit_child(run: FakeRun, parent: int, index: int, tmp_path: Path) -> int:
    """What `_commit` writes for an expansion, as if the kill came right after it."""
    child = run.archive.materialize(parent, tmp_path / f"late-{index}")
    (child / "agent.py").write_text(f"# change {index}\n")
    node = run.archive.add_child(parent, files_dir=child, entry="fake", problem_statement="",
                                 status="valid", meta={"expansion": index})  # fmt: skip
    return node.id


def test_an_expansion_killed_in_flight_runs_once_on_resume(make_run: MakeRun):
    run = make_run(budget={"evals": 6, "expansions": None})
    run.bench.on_expand(0, KILL)
    with pytest.raises(Killed):
        run.run()
    assert in_flight(run) == [("expand", 0, 0)]
    assert expansions(run) == {}
    assert run.aborts == 1  # a real run's containers are removed at once
    assert run.run() == "evaluation budget reached (6)"
    assert outcomes(run, "expand", 0) == [KILL, "valid"]
    assert expansions(run) == {0: 0, 1: 1}  # the counter went on from the saved state
    assert evaluated(run, 0) == ["t0", "t1"]  # nothing committed before the kill ran again
    assert len(run.bench.runs("evaluate")) == 6


def test_an_expansion_committed_just_before_the_kill_is_not_run_again(
    make_run: MakeRun, tmp_path: Path
):
    run = make_run(budget={"evals": 6, "expansions": None})
    run.bench.on_expand(0, KILL)
    with pytest.raises(Killed):
        run.run()
    child = commit_child(run, 0, 0, tmp_path)
    assert run.run() == "evaluation budget reached (6)"
    assert outcomes(run, "expand", 0) == [KILL]  # the resume took the committed child
    assert expansions(run) == {0: 0, 1: child}
    assert evaluated(run, child) == ["t0", "t1"]  # and the policy went on from it


def test_evaluations_killed_in_flight_run_once_each_on_resume(make_run: MakeRun):
    run = make_run(workers=2, budget={"evals": 4, "expansions": None},
                   policy_params={"eval_tasks": 4})  # fmt: skip
    run.bench.on_eval(0, "t1", KILL)
    with pytest.raises(Killed):
        run.run()
    assert evaluated(run, 0) == ["t0"]
    assert in_flight(run) == [("evaluate", 0, "t1"), ("evaluate", 0, "t2"), ("evaluate", 0, "t3")]
    assert run.run() == "evaluation budget reached (4)"
    assert evaluated(run, 0) == ["t0", "t1", "t2", "t3"]
    for task in ("t0", "t2", "t3"):
        assert len(outcomes(run, "evaluate", (0, task))) == 1, task
    assert outcomes(run, "evaluate", (0, "t1"))[0] == KILL


def test_an_evaluation_committed_just_before_the_kill_is_not_run_again(make_run: MakeRun):
    run = make_run(workers=2, budget={"evals": 4, "expansions": None},
                   policy_params={"eval_tasks": 4})  # fmt: skip
    run.bench.on_eval(0, "t1", KILL)
    with pytest.raises(Killed):
        run.run()
    run.archive.record_evaluation(0, "fake", "t1", "resolved")  # committed, state not saved
    assert run.run() == "evaluation budget reached (4)"
    assert outcomes(run, "evaluate", (0, "t1")) == [KILL]
    assert [len(outcomes(run, "evaluate", (0, t))) for t in ("t2", "t3")] == [1, 1]
    assert evaluated(run, 0) == ["t0", "t1", "t2", "t3"]


def test_groups_of_both_kinds_in_flight_resume_together(make_run: MakeRun):
    # random does not wait for results: with two workers, node 1's evaluation (hanging) and
    # expansion 1 (killed) are in flight at once.
    run = make_run("random", workers=2, budget={"evals": 5, "expansions": None},
                   policy_params={"eval_tasks": 1})  # fmt: skip
    run.bench.on_eval(1, "t0", HANG)
    run.bench.on_expand(1, KILL)
    with pytest.raises(Killed):
        run.run()
    assert sorted((kind, what) for kind, _, what in in_flight(run)) == [
        ("evaluate", "t0"),
        ("expand", 1),
    ]
    assert run.executor.pending[0].cancelled()  # the kill cancelled the hanging job
    run.run()
    assert outcomes(run, "evaluate", (1, "t0"))[0] == HANG
    assert len(outcomes(run, "evaluate", (1, "t0"))) == 2
    assert outcomes(run, "expand", 1) == [KILL, "valid"]
    assert set(expansions(run)) >= {0, 1}
    assert evaluated(run, 1) == ["t0"]
    assert run.in_flight() == []


@pytest.mark.parametrize("policy", ["random", "hgm"])
def test_a_killed_and_resumed_run_makes_the_same_choices_as_one_never_killed(
    make_run: MakeRun, policy: str
):
    """The policy's RNG and plans are restored with the loop state, so the kill changes
    nothing the run decides."""
    params = {"eval_tasks": 2} if policy == "random" else {}
    budget = {"evals": 12, "expansions": None}
    whole = make_run(policy, budget=budget, policy_params=params)
    whole.run()
    killed = make_run(policy, budget=budget, policy_params=params)
    killed.bench.on_expand(2, KILL)
    with pytest.raises(Killed):
        killed.run()
    killed.run()
    for run in (whole, killed):
        run.record = (
            sorted(expansions(run).items()),
            [(e.node, e.task, e.outcome) for e in run.archive.evaluations()],
        )
    assert killed.record == whole.record
    assert len(whole.record[0]) >= 3  # expansion 2 happened in both
