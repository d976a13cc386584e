"""The one evaluation pipeline (dgm/run/evaluation.py) with the local executor and job
functions that need no Docker: results taken back on the caller's thread, lost jobs
submitted again, budget and provider failures held (never a result), a refused key and
Ctrl-C stopping everything with nothing left running."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path

import pytest

from dgm.executors import Job, JobResult, LocalExecutor
from dgm.fm import ProviderDown
from dgm.run.evaluation import MAX_LOST, EvalFailed, Ran, RunTracker, Tracker, evaluate
from tests.dgm.run.fakejobs import finish, job


class Losing:
    """The local executor, except that a job's first `times` submissions come back lost
    at once, as when its node dies (they never run)."""

    name = "losing"

    def __init__(self, workers: int, times: dict[str, int]):
        self.inner, self.times = LocalExecutor(workers), dict(times)
        self.submitted: list[str] = []

    def submit(self, job: Job) -> Future:
        self.submitted.append(job.key)
        if self.times.get(job.key, 0) > 0:
            self.times[job.key] -= 1
            fut: Future = Future()
            fut.set_result(JobResult(job.key, "lost", node="gone", reason="node died"))
            return fut
        return self.inner.submit(job)

    def cancel(self, future: Future) -> bool:
        return self.inner.cancel(future)

    def shutdown(self, cancel: bool = False) -> None:
        self.inner.shutdown(cancel)


class Recorder(Tracker):
    def __init__(self):
        self.events: list[tuple[str, str]] = []

    def started(self, job):
        self.events.append(("started", job.key))

    def finished(self, job, result, value):
        self.events.append(("finished", job.key))

    def held(self, job, reason):
        self.events.append(("held", job.key))

    def lost(self, job, result):
        self.events.append(("lost", job.key))


def started(marks: Path) -> set[str]:
    return {p.stem for p in marks.glob("*.start")}


def ended(marks: Path) -> set[str]:
    return {p.stem for p in marks.glob("*.end")}


def test_every_result_is_taken_back_on_the_calling_thread(tmp_path):
    threads = set()

    def take(j, result):
        threads.add(threading.get_ident())
        return finish(j, result)

    jobs = [job(f"t{i}", tmp_path, outcome="resolved" if i % 2 else "unresolved")
            for i in range(5)]  # fmt: skip
    ran = evaluate(jobs, take, LocalExecutor(2))
    assert threads == {threading.get_ident()}  # only the head records
    assert set(ran.done) == {j.key for j in jobs} and not ran.held and ran.lost == 0
    assert [ran.done[f"t{i}"].outcome for i in range(2)] == ["unresolved", "resolved"]
    assert {r.node for r in ran.done.values()} == {"local"}


def test_a_lost_job_is_submitted_again_and_runs_once(tmp_path):
    pool, tracker = Losing(2, {"b": 2}), Recorder()
    jobs = [job(k, tmp_path) for k in "abc"]
    ran = evaluate(jobs, finish, pool, tracker=tracker)
    assert set(ran.done) == {"a", "b", "c"} and ran.lost == 2
    assert pool.submitted.count("b") == 3 and started(tmp_path) == {"a", "b", "c"}
    assert tracker.events.count(("lost", "b")) == 2
    assert tracker.events.count(("finished", "b")) == 1


def test_a_job_lost_every_time_fails_as_the_scheduler_fails_it(tmp_path):
    with pytest.raises(EvalFailed, match=f"lost {MAX_LOST} times: node died") as info:
        evaluate([job("b", tmp_path)], finish, Losing(1, {"b": 99}))
    assert info.value.exit_code == 1


def test_budget_and_provider_failures_are_held_never_results(tmp_path):
    taken = []
    jobs = [job("ok", tmp_path), job("budget", tmp_path, fail="budget"),
            job("provider", tmp_path, fail="provider")]  # fmt: skip
    tracker = Recorder()
    ran = evaluate(jobs, lambda j, r: taken.append(j.key) or finish(j, r), LocalExecutor(2),
                   tracker=tracker)  # fmt: skip
    assert taken == ["ok"] and set(ran.done) == {"ok"}
    assert set(ran.held) == {"budget", "provider"}
    assert "budget is spent" in ran.held["budget"] and "503" in ran.held["provider"]
    assert ("held", "budget") in tracker.events


def test_a_refused_key_stops_everything_and_calls_abort(tmp_path):
    aborted = []
    jobs = [job("refused", tmp_path, fail="refused"), *(job(f"q{i}", tmp_path) for i in range(3))]
    with pytest.raises(ProviderDown, match="refused the key"):
        evaluate(jobs, finish, LocalExecutor(1), abort=lambda: aborted.append(1))
    assert aborted
    assert started(tmp_path) <= {"refused", "q0"}  # the queued were cancelled


def test_a_host_failure_is_one_line_with_exit_code_1(tmp_path):
    with pytest.raises(EvalFailed) as info:
        evaluate([job("t", tmp_path, fail="the daemon went away")], finish, LocalExecutor(1))
    assert str(info.value) == "evaluating t failed: RuntimeError: the daemon went away"
    assert info.value.exit_code == 1 and isinstance(info.value.__cause__, RuntimeError)


def test_ctrl_c_cancels_the_queue_ends_what_runs_and_keeps_what_came_back(tmp_path):
    """Ctrl-C reaches the head while two jobs run (they run until `abort` removes their
    "containers"): the queued never start, the running have ended when it propagates."""
    stop = tmp_path / "containers-removed"
    marks = tmp_path / "marks"
    marks.mkdir()
    jobs = [job("quick", marks), *(job(f"slow{i}", marks, until=str(stop)) for i in range(4))]

    def take(j, result):
        raise KeyboardInterrupt  # as Ctrl-C arrives while the head handles a result

    ran: Ran = Ran()
    with pytest.raises(KeyboardInterrupt):
        evaluate(jobs, take, LocalExecutor(2), abort=stop.touch, ran=ran)
    assert stop.exists()
    assert started(marks) == ended(marks)  # nothing still running
    assert len(started(marks)) <= 3  # quick, and the two slots it and slow0 held


def test_the_run_tracker_tells_the_view_and_the_event_log(tmp_path):
    class Archive:
        def __init__(self):
            self.events = []

        def log_event(self, name, data):
            self.events.append((name, data))

    class View:
        def __init__(self):
            self.calls = []

        def started(self, work):
            self.calls.append(("started", work.kind, work.node, work.task, id(work)))

        def finished(self, work, value):
            self.calls.append(("finished", work.kind, work.node, work.task, id(work)))

        def note(self, text):
            self.calls.append(("note", text))

    archive, view = Archive(), View()
    tracker = RunTracker(archive, view)
    jobs = [job("a", tmp_path), job("b", tmp_path, fail="budget")]
    evaluate(jobs, finish, Losing(1, {"a": 1}), tracker=tracker)
    names = [name for name, _ in archive.events]
    assert sorted(names) == ["job_held", "job_lost", "job_ran"]
    ran = next(data for name, data in archive.events if name == "job_ran")
    assert ran == {"kind": "evaluate", "node": 0, "task": "a", "final": True, "where": "local"}
    started_ = [c for c in view.calls if c[0] == "started" and c[3] == "a"]
    finished_ = [c for c in view.calls if c[0] == "finished"]
    assert finished_ and finished_[0][1:] == started_[-1][1:]  # one object, start to end
    assert any("not recorded" in c[1] for c in view.calls if c[0] == "note")
