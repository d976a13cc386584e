"""The scheduler's paths without Docker: every job's fate (committed, held, failed, lost)
and every way a run stops, each checked by what the archive holds afterwards: its nodes,
evaluations, events and the saved loop state a resume would start from.

The runs use `greedy` with `eval_tasks = 2` over tasks t0..t3 and one worker unless a test
says otherwise, so the order of work is fixed: evaluate node 0 on t0, t1; expand the best
node (expansion 0 makes node 1); evaluate node 1 on t0, t1; expand again; and so on."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dgm.run import outage
from dgm.run import scheduler as scheduler_module
from dgm.run.outage import ProviderStop
from dgm.run.scheduler import MAX_FAILURES, MAX_LOST, LoopError
from tests.dgm.run.fakes import (
    BUDGET,
    ERROR,
    FM_CALL,
    HANG,
    LOST,
    PROVIDER_DOWN,
    PROVIDER_REFUSED,
    FakeRun,
)

pytestmark = pytest.mark.timeout(120)  # a scheduler bug must fail the test, not hang it

MakeRun = Callable[..., FakeRun]
NO_EXPANSION_CAP = {"evals": 6, "expansions": None}


def evaluated(run: FakeRun, node: int) -> list[str]:
    return sorted(e.task for e in run.archive.evaluations(node))


def expansions(run: FakeRun) -> dict[int, int]:
    """Expansion index -> parent, over the archive's nodes (an index twice would be lost)."""
    nodes = [n for n in run.archive.nodes() if "expansion" in n.meta]
    out = {n.meta["expansion"]: n.parent for n in nodes}
    assert len(out) == len(nodes), "an expansion index was committed twice"
    return out


def events(run: FakeRun, kind: str) -> list[dict]:
    return [e.data for e in run.archive.events(kind)]


# -- the plain path and the evaluation/expansion budgets ---------------------------------------
def test_every_result_is_committed_in_order_and_the_run_stops_at_its_budget(make_run: MakeRun):
    run = make_run(budget=NO_EXPANSION_CAP)
    assert run.run() == "evaluation budget reached (6)"
    assert [(k, n, w) for k, n, w, _ in run.bench.ran] == [
        ("evaluate", 0, "t0"), ("evaluate", 0, "t1"), ("expand", 0, 0),
        ("evaluate", 1, "t0"), ("evaluate", 1, "t1"), ("expand", 1, 1),
        ("evaluate", 2, "t0"), ("evaluate", 2, "t1"),
    ]  # fmt: skip
    assert len(run.archive.evaluations()) == 6
    assert run.kinds("job_ran", "job_held", "job_failed", "job_lost") == ["job_ran"] * 8
    assert expansions(run) == {0: 0, 1: 1}
    assert run.in_flight() == []  # nothing left for a resume
    assert run.executor.cancels == [] and run.aborts == 0  # on_stop "finish": nothing dropped
    assert len(run.view.started_jobs) == len(run.view.finished_jobs) == 8


def test_exactly_at_the_evaluation_budget_a_resume_starts_nothing(make_run: MakeRun):
    run = make_run(budget={"evals": 4, "expansions": None})
    assert run.run() == "evaluation budget reached (4)"
    submitted = len(run.executor.submitted)
    assert run.run() == "evaluation budget reached (4)"
    assert len(run.executor.submitted) == submitted
    assert len(run.archive.evaluations()) == 4


def test_the_budget_reached_mid_group_cuts_the_group_short(make_run: MakeRun):
    run = make_run(budget={"evals": 3, "expansions": None})
    assert run.run() == "evaluation budget reached (3)"
    assert evaluated(run, 0) == ["t0", "t1"]
    assert evaluated(run, 1) == ["t0"]  # Evaluate(1, (t0, t1)) was cut to what was left
    assert run.in_flight() == []


@pytest.mark.parametrize("policy", ["greedy", "random", "hgm", "dgm"])
def test_two_workers_never_pass_the_evaluation_budget(make_run: MakeRun, policy: str):
    params = {"eval_tasks": 3} if policy in ("greedy", "random") else {}
    run = make_run(policy, policy_params=params, workers=2, budget={"evals": 7, "expansions": 6})
    reason = run.run()
    assert len(run.archive.evaluations()) <= 7
    if reason.startswith("evaluation"):
        assert len(run.archive.evaluations()) == 7
    assert run.in_flight() == []


def test_the_expansion_budget_counts_attempts(make_run: MakeRun):
    run = make_run(budget={"evals": None, "expansions": 2})
    run.bench.on_expand(0, "invalid")
    assert run.run() == "expansion budget reached (2)"
    assert expansions(run) == {0: 0, 1: 0}  # the invalid child counts as an attempt
    assert [n.status for n in run.archive.nodes()] == ["valid", "invalid", "valid"]


def test_the_wall_time_budget_counts_the_time_of_earlier_sessions(make_run: MakeRun):
    run = make_run(budget={"evals": None, "expansions": None, "wall_seconds": 60})
    run.archive.put_state("loop", {"elapsed": 60.0})  # what earlier sessions of it took
    assert run.run() == "wall-time budget reached (60 s)"
    assert run.executor.submitted == []


# -- the FM budget (the real `sim` gateway) -------------------------------------------------
def test_fm_budget_exactly_spent_keeps_the_last_job_and_stops(make_run: MakeRun):
    run = make_run(budget={"evals": None, "expansions": None, "calls": 2},
                   policy_params={"eval_tasks": 1})  # fmt: skip
    run.bench.on_expand(0, FM_CALL)
    run.bench.on_expand(1, FM_CALL)
    assert run.run() == "FM budget reached"
    assert expansions(run) == {0: 0, 1: 1}  # the call that spent the budget was answered
    assert run.kinds("job_held") == []
    assert run.gateway.budget.run.calls == 2


def test_fm_budget_one_call_over_holds_the_job_and_stops(make_run: MakeRun):
    run = make_run(budget={"evals": None, "expansions": None, "calls": 3},
                   policy_params={"eval_tasks": 1})  # fmt: skip
    run.bench.fm_calls = 2  # expansion 1 gets its first call, and is refused its second
    run.bench.on_expand(0, FM_CALL)
    run.bench.on_expand(1, FM_CALL)
    assert run.run() == "FM budget reached"
    assert expansions(run) == {0: 0}  # expansion 1 is not recorded: no verdict on it
    [held] = events(run, "job_held")
    assert (held["kind"], held["index"]) == ("expand", 1) and "budget" in held["reason"]
    assert [(j["kind"], j["index"]) for j in run.in_flight()] == [("expand", 1)]
    assert run.gateway.budget.run.calls == 3


def test_a_budget_refusal_is_held_not_failed(make_run: MakeRun):
    run = make_run(budget=NO_EXPANSION_CAP)
    run.bench.on_eval(0, "t1", BUDGET)
    run.run()
    assert run.kinds("job_failed") == []
    [held] = events(run, "job_held")
    assert (held["node"], held["task"]) == (0, "t1")
    # Held, not dropped: it stays in its group, in the state a resume starts from.
    assert [(j["node"], j["task"]) for j in run.in_flight()] == [(0, "t1")]


# -- provider outages: hold, pause, try again, give up --------------------------------------
def test_a_provider_failure_holds_the_job_pauses_and_runs_it_again(make_run: MakeRun):
    run = make_run(budget=NO_EXPANSION_CAP)
    run.bench.on_eval(0, "t1", PROVIDER_DOWN)
    run.run()
    assert [o for *_, o in run.bench.runs("evaluate", (0, "t1"))][0] == PROVIDER_DOWN
    assert len(run.bench.runs("evaluate", (0, "t1"))) == 2
    assert evaluated(run, 0) == ["t0", "t1"]  # recorded once, from the second run
    kinds = run.kinds("job_held", "provider_pause", "provider_back", "job_failed")
    assert kinds == ["job_held", "provider_pause", "provider_back"]
    assert events(run, "provider_pause")[0]["attempts"] == 1
    assert run.archive.get_state("provider") == {"status": None}
    notes = " | ".join(run.view.notes)
    assert "not recorded" in notes and "the provider answers again" in notes


def test_nothing_starts_before_the_pause_is_over(make_run: MakeRun):
    run = make_run(budget={"evals": 3, "expansions": None},
                   provider={"pause_first": 0.2, "pause_max": 1})  # fmt: skip
    run.bench.on_eval(0, "t1", PROVIDER_DOWN)
    run.run()
    (k1, held_at), (k2, again_at) = run.executor.submitted[1:3]
    assert k1 == k2 == "evaluate:0:t1:0"
    assert again_at - held_at >= 0.2


def test_a_job_held_near_the_budget_is_tried_again_and_lands_before_the_stop(make_run: MakeRun):
    run = make_run(budget={"evals": 2, "expansions": None})
    run.bench.on_eval(0, "t1", PROVIDER_DOWN)
    # t0 done + t1 in flight fill the budget: nothing new starts, but t1 fits it, so the
    # run waits for it; held by the provider, it is tried again after the pause and lands.
    assert run.run() == "evaluation budget reached (2)"
    assert evaluated(run, 0) == ["t0", "t1"]
    assert len(run.bench.runs("evaluate", (0, "t1"))) == 2
    assert run.kinds("job_held") == ["job_held"] and run.in_flight() == []


class _Clock:
    """The outage's wall clock, 100 s later at each reading (pauses stay at 0 s)."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        self.now += 100
        return self.now

    def __getattr__(self, name: str):
        import time

        return getattr(time, name)


def test_a_provider_failing_past_give_up_after_stops_the_run_resumably(
    make_run: MakeRun, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(outage, "time", _Clock())
    run = make_run(budget=NO_EXPANSION_CAP, provider={"give_up_after": 150})
    run.bench.on_eval(0, "t1", PROVIDER_DOWN, PROVIDER_DOWN, PROVIDER_DOWN)
    with pytest.raises(ProviderStop, match="dgm run --resume"):
        run.run()
    assert run.kinds("provider_pause", "provider_stop") == ["provider_pause"] * 2 + [
        "provider_stop"
    ]
    assert evaluated(run, 0) == ["t0"]
    assert [(j["node"], j["task"]) for j in run.in_flight()] == [(0, "t1")]
    # The provider is back: the resume runs the held job first, once.
    assert run.run() == "evaluation budget reached (6)"
    assert evaluated(run, 0) == ["t0", "t1"]
    assert run.bench.ran[3][:3] == ("evaluate", 0, "t1")


def test_a_provider_refusing_the_key_stops_at_once(make_run: MakeRun):
    run = make_run(budget=NO_EXPANSION_CAP)
    run.bench.on_eval(0, "t1", PROVIDER_REFUSED)
    with pytest.raises(ProviderStop):
        run.run()
    assert run.kinds("job_held", "provider_pause") == ["job_held"]  # no pause: no retry
    assert len(run.bench.runs("evaluate", (0, "t1"))) == 1
    assert [(j["node"], j["task"]) for j in run.in_flight()] == [(0, "t1")]


# -- failed and lost jobs ------------------------------------------------------------------
def test_a_failed_job_is_dropped_and_the_policy_plans_it_again(make_run: MakeRun):
    run = make_run(budget={"evals": 4, "expansions": None})
    run.bench.on_eval(0, "t1", ERROR)
    assert run.run() == "evaluation budget reached (4)"
    [failed] = events(run, "job_failed")
    assert (failed["node"], failed["task"]) == (0, "t1") and "sandbox failed" in failed["error"]
    assert evaluated(run, 0) == ["t0", "t1"]  # the next plan ran it again
    assert [o for *_, o in run.bench.runs("evaluate", (0, "t1"))][0] == ERROR


def test_max_failures_in_a_row_stop_the_run_keeping_what_is_committed(make_run: MakeRun):
    run = make_run(budget=NO_EXPANSION_CAP)
    # t0 and t1 fail (1, 2); the policy plans both again and t0 fails a third time in a row.
    run.bench.on_eval(0, "t0", ERROR, ERROR)
    run.bench.on_eval(0, "t1", ERROR)
    with pytest.raises(LoopError, match=f"{MAX_FAILURES} jobs failed in a row"):
        run.run()
    assert len(events(run, "job_failed")) == MAX_FAILURES
    assert run.kinds("job_ran") == []
    assert run.archive.evaluations() == []
    # The third failure left its group's other job queued: a resume runs it.
    assert [(j["node"], j["task"]) for j in run.in_flight()] == [(0, "t1")]
    assert run.run() == "evaluation budget reached (6)"
    assert evaluated(run, 0) == ["t0", "t1"]


def test_a_success_between_failures_resets_the_count(make_run: MakeRun):
    run = make_run(budget=NO_EXPANSION_CAP)
    run.bench.on_eval(0, "t0", ERROR)  # 1
    run.bench.on_eval(0, "t1", ERROR, ERROR, ERROR)  # 2; after t0's success: 1, then 2
    assert run.run() == "evaluation budget reached (6)"
    assert len(events(run, "job_failed")) == 4 > MAX_FAILURES
    assert evaluated(run, 0) == ["t0", "t1"]


def test_a_lost_expansion_is_queued_again_and_committed_once(make_run: MakeRun):
    run = make_run(budget=NO_EXPANSION_CAP)
    run.bench.on_expand(0, LOST)
    run.run()
    assert [o for *_, o in run.bench.runs("expand", 0)] == [LOST, "valid"]
    assert expansions(run) == {0: 0, 1: 1}
    [lost] = events(run, "job_lost")
    assert (lost["index"], lost["where"], lost["reason"]) == (0, "fake-node", "node died")
    ran = [e["index"] for e in events(run, "job_ran") if e["kind"] == "expand"]
    assert ran == [0, 1]
    assert any("queued again" in n for n in run.view.notes)


def test_a_job_lost_max_lost_times_fails(make_run: MakeRun):
    run = make_run(budget=NO_EXPANSION_CAP)
    run.bench.on_expand(0, *[LOST] * MAX_LOST)
    run.run()
    assert len(run.bench.runs("expand", 0)) == MAX_LOST
    [failed] = events(run, "job_failed")
    assert failed["index"] == 0 and f"lost {MAX_LOST} times" in failed["error"]
    assert 0 not in expansions(run)  # never committed; the next expansion has a new index
    assert expansions(run) == {1: 0, 2: 1}


def test_a_lost_evaluation_runs_again_as_the_same_attempt(make_run: MakeRun):
    run = make_run(budget={"evals": 2, "expansions": None})
    run.bench.on_eval(0, "t0", LOST)
    run.run()
    keys = [k for k, _ in run.executor.submitted]
    assert keys == ["evaluate:0:t0:0", "evaluate:0:t0:0", "evaluate:0:t1:0"]
    assert evaluated(run, 0) == ["t0", "t1"]


# -- on_stop: finish the work in flight, or abandon it --------------------------------------
def test_on_stop_finish_commits_the_work_in_flight(make_run: MakeRun):
    run = make_run(workers=2, budget={"evals": 4, "expansions": None},
                   policy_params={"eval_tasks": 4})  # fmt: skip
    assert run.run() == "evaluation budget reached (4)"
    assert evaluated(run, 0) == ["t0", "t1", "t2", "t3"]
    assert run.in_flight() == []
    assert run.executor.cancels == [] and run.aborts == 0


def test_on_stop_abandon_leaves_the_work_in_flight_for_a_resume(
    make_run: MakeRun, monkeypatch: pytest.MonkeyPatch
):
    """Abandon applies to a limit truly reached: work that fits the evaluation budget is
    waited for, until the wall-time budget (a fake clock, 100 s a reading) runs out."""
    run = make_run(workers=2, on_stop="abandon",
                   budget={"evals": 4, "expansions": None, "wall_seconds": 1500},
                   policy_params={"eval_tasks": 4})  # fmt: skip
    run.bench.on_eval(0, "t2", HANG)
    run.bench.on_eval(0, "t3", HANG)
    clock = _Clock()
    clock.monotonic = clock.time  # the scheduler's elapsed time reads the fake clock
    monkeypatch.setattr(scheduler_module, "time", clock)
    assert run.run() == "wall-time budget reached (1500 s)"  # returns: nothing waited for
    assert evaluated(run, 0) == ["t0", "t1"]
    assert run.executor.pending and all(f.cancelled() for f in run.executor.pending)
    assert run.aborts == 1  # a real run's containers are removed, so its workers end at once
    assert [j["task"] for j in run.in_flight()] == ["t2", "t3"]
    # A resume with time left, still abandoning at a limit, commits them, each once: they
    # fit the evaluation budget, so they land before it stops (not abandoned again).
    monkeypatch.undo()
    run.config.budget.wall_seconds = None
    assert run.run() == "evaluation budget reached (4)"
    assert len(run.bench.runs("evaluate", (0, "t2"))) == 2
    assert evaluated(run, 0) == ["t0", "t1", "t2", "t3"]
    assert run.in_flight() == []


# -- quarantine ------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["auto", "off"])
def test_a_tampered_node_is_never_a_parent_again(make_run: MakeRun, mode: str):
    run = make_run(quarantine=mode, budget={"evals": None, "expansions": 4})
    run.bench.resolve_rate = 0.0  # every result unresolved unless scripted
    run.bench.on_eval(1, "t0", "tampered")
    run.bench.on_eval(1, "t1", "resolved")  # node 1 scores best: greedy's parent, unless held
    assert run.run() == "expansion budget reached (4)"
    parents = expansions(run)
    if mode == "auto":
        [q] = events(run, "quarantine")
        assert (q["node"], q["state"], q["task"]) == (1, "quarantined", "t0")
        assert run.archive.node(1).quarantine == "quarantined"
        assert 1 not in parents.values()
    else:
        assert run.kinds("quarantine") == []
        assert parents[1] == 1  # the same run without quarantine builds on node 1
