"""The one evaluation pipeline outside the scheduler's loop: jobs through the run's executor.

`dgm run`'s final evaluation, `dgm eval` and `dgm replay` evaluate (agent source, task)
pairs here, as the very jobs the scheduler submits (dgm/run/jobs.py), through the executor
the run asked for (`local` threads or a Ray cluster), under the scheduler's rules:

- a job whose node or worker died comes back "lost": nothing is known of the agent, so it is
  submitted again (failing after `MAX_LOST` losses, as the scheduler does);
- a job the FM budget or the provider cut short is held: no result is recorded, so nothing
  counts against the agent; a provider that refuses the key or the model stops everything;
- Ctrl-C, or a failure of the host, cancels what is queued, ends what runs (`abort` removes
  the containers) and waits for the workers to see it before it propagates.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from dgm.errors import DgmError
from dgm.executors import Executor, Job, JobResult
from dgm.fm import BudgetExceeded, ProviderDown

if TYPE_CHECKING:
    from dgm.protocols import RunView

T = TypeVar("T")
MAX_LOST = 3  # the scheduler's limit: a job lost this often (its node died each time) fails
Finish = Callable[[Job, JobResult], Any]


class EvalFailed(DgmError):
    """The host failed an evaluation (not the agent): one line, exit code 1."""

    exit_code = 1


class Tracker:
    """Told as the pipeline goes (a progress bar, the run's live view); does nothing here."""

    def started(self, job: Job) -> None: ...

    def finished(self, job: Job, result: JobResult, value: Any) -> None: ...

    def held(self, job: Job, reason: str) -> None: ...

    def lost(self, job: Job, result: JobResult) -> None: ...


@dataclass
class Ran(Generic[T]):
    """What the pipeline did, by job key: filled as results come, so a caller interrupted
    midway still has every result that came back."""

    done: dict[str, T] = field(default_factory=dict)
    held: dict[str, str] = field(default_factory=dict)
    """Jobs with no result because the FM budget or the provider failed them, with why."""
    lost: int = 0
    """Submissions lost with their node or worker (each was submitted again)."""


def evaluate(
    jobs: Sequence[Job],
    finish: Finish,
    pool: Executor,
    *,
    tracker: Tracker | None = None,
    abort: Callable[[], object] | None = None,
    ran: Ran | None = None,
    patience: float = 30.0,
    shutdown: bool = True,
) -> Ran:
    """Run `jobs` on `pool` and call `finish(job, result)` on this thread for each that came
    back done (what it returns is kept in `ran.done`). The pool is shut down on return
    unless `shutdown` is False (the caller's to close); on any exception its work is
    cancelled and `abort` called (see the module docstring)."""
    tracker = tracker or Tracker()
    ran = ran if ran is not None else Ran()
    futures: dict[Future, Job] = {}
    losses: dict[str, int] = {}

    def submit(job: Job) -> None:
        futures[pool.submit(job)] = job
        tracker.started(job)

    try:
        for job in jobs:
            submit(job)
        while futures:
            # a bounded wait: Ctrl-C is seen, and a progress bar's clock moves
            done, _ = wait(list(futures), timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in done:
                job = futures.pop(fut)
                try:
                    result = fut.result()
                except (BudgetExceeded, ProviderDown) as exc:
                    if isinstance(exc, ProviderDown) and exc.fatal:
                        raise  # a refused key or model fails every job alike
                    ran.held[job.key] = str(exc)
                    tracker.held(job, str(exc))
                    continue
                except Exception as exc:
                    if isinstance(getattr(exc, "exit_code", None), int):
                        raise  # ours: already one line with its exit code
                    raise _one_line(job, exc) from exc
                if result.lost:  # its node died: nothing is known of the agent
                    ran.lost += 1
                    losses[job.key] = losses.get(job.key, 0) + 1
                    if losses[job.key] >= MAX_LOST:
                        raise EvalFailed(f"{job.key} was lost {MAX_LOST} times: {result.reason}")
                    tracker.lost(job, result)
                    submit(job)
                    continue
                ran.done[job.key] = value = finish(job, result)
                tracker.finished(job, result, value)
    except BaseException:
        pool.shutdown(cancel=True)
        if abort is not None:
            abort()
            _drain(futures, abort, patience)
        raise
    if shutdown:
        pool.shutdown()
    return ran


def _one_line(job: Job, exc: Exception) -> EvalFailed:
    """An unexpected failure of the host as one line, not a traceback (what the agent does
    is an outcome, never an exception)."""
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    what = job.tags.get("task", job.key)
    return EvalFailed(f"evaluating {what} failed: {type(exc).__name__}: {first}")


def _drain(futures: dict[Future, Job], abort: Callable[[], object], patience: float) -> None:
    """Let running workers see their containers gone (a grading may start a new one)."""
    deadline = time.monotonic() + patience
    while any(not f.done() for f in futures) and time.monotonic() < deadline:
        wait([f for f in futures if not f.done()], timeout=1.0)
        abort()


class RunTracker(Tracker):
    """A run's live view and event log told of the final evaluation's jobs, as the
    scheduler tells them of its own (`job_ran` with where it ran, `job_held`, `job_lost`)."""

    def __init__(self, archive: Any, view: RunView | None = None):
        self.archive, self.view = archive, view
        self._work: dict[str, SimpleNamespace] = {}

    def _event(self, name: str, job: Job, **data: Any) -> None:
        self.archive.log_event(name, {"kind": "evaluate", **job.tags, "final": True, **data})

    def started(self, job: Job) -> None:
        # the view names work by kind, node and task, one object from start to end (a job
        # submitted again after its node died keeps its object)
        work = self._work.setdefault(job.key, SimpleNamespace(kind="evaluate", **job.tags))
        if self.view is not None:
            self.view.started(work)

    def finished(self, job: Job, result: JobResult, value: Any) -> None:
        self._event("job_ran", job, where=result.node)
        work = self._work.pop(job.key)
        if self.view is not None:
            self.view.finished(work, value)

    def held(self, job: Job, reason: str) -> None:
        self._event("job_held", job, reason=reason[:500])
        self.note(f"[yellow]not recorded[/yellow]: final evaluation of {job.key}: {reason}")

    def lost(self, job: Job, result: JobResult) -> None:
        self._event("job_lost", job, where=result.node, reason=result.reason)
        self.note(f"[yellow]queued again[/yellow]: {job.key}: {result.reason}")

    def note(self, text: str) -> None:
        if self.view is not None:
            self.view.note(text)
