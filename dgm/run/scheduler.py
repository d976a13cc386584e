"""The scheduler: one thread decides, N worker threads expand and evaluate.

The policy answers "what next" from an in-memory `TreeState` that mirrors the archive. Every
result is committed to the archive (and the loop state saved) on this thread before the next
decision, so a killed run resumes from exactly what was committed: work that was in flight is
re-queued, the policy's RNG state restored.

A job the provider failed (after the gateway's retries) is held, not recorded: the run
pauses with exponential back-off, then runs it again; after `provider.give_up_after`
seconds of failure the run stops, resumable. A provider that refuses the run's key or model
stops the run at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait

from archive import Archive
from dgm.errors import DgmError
from dgm.executors import ExecutorError, JobResult, make_executor
from dgm.fm import BudgetExceeded, Gateway, ProviderDown
from dgm.policies import ActionResult, Evaluate, Expand, Stop, TreeState, Wait
from dgm.protocols import Executor, Policy, RunView
from dgm.run.config import RunConfig
from dgm.run.groups import STATE_KEY, Group, Work, restore_group, save_state
from dgm.run.jobs import JobMaker
from dgm.run.outage import ProviderStop, ProviderWatch
from dgm.run.workbench import Evaluation, Expansion, Workbench

MAX_FAILURES = 3
MAX_LOST = 3  # a job lost this often (its node or worker died each time) fails


class LoopError(DgmError):
    """The run cannot go on (jobs keep failing for reasons outside the agents)."""

    exit_code = 1


__all__ = ["STATE_KEY", "LoopError", "ProviderStop", "Scheduler"]


class Scheduler:
    """Grows the archive: asks the policy, hands its work to the executor, commits each
    result on this thread. `executor` None: the config's (a test passes a Docker-free one)."""

    def __init__(self, config: RunConfig, archive: Archive, tree: TreeState, policy: Policy,
                 bench: Workbench, gateway: Gateway, view: RunView | None = None,
                 on_abort: Callable[[], None] | None = None,
                 executor: Executor | None = None):  # fmt: skip
        self.config, self.archive, self.tree, self.policy = config, archive, tree, policy
        self.executor = executor
        self.bench, self.gateway, self.view = bench, gateway, view
        self.on_abort = on_abort
        state = archive.get_state(STATE_KEY) or {}
        self.expansions = int(state.get("expansions", 0))
        self.elapsed_before = float(state.get("elapsed", 0.0))
        self.next_group = int(state.get("next_group", 0))
        self.groups: dict[int, Group] = {}
        self.pending_jobs: list[Work] = []
        self.futures: dict[Future, Work] = {}
        self.started = time.monotonic()
        self.stop_reason: str | None = None
        self.failures = 0
        self.watch = ProviderWatch(config.provider, archive, view)
        self.jobs = JobMaker(bench)  # jobs as data: the same on a thread or another machine
        self.losses: dict[tuple, int] = {}
        if "policy" in state:
            policy.load_state_dict(state["policy"])
        # An expansion committed just before a kill must not run again on resume.
        self.committed_expansions = {
            n.meta["expansion"]: n for n in archive.nodes() if "expansion" in n.meta
        }
        for g in state.get("groups", []):
            self._restore_group(g)

    # -- persistence -----------------------------------------------------------------------
    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.started

    def save(self) -> None:
        save_state(self.archive, self.groups, expansions=self.expansions,
                   elapsed=self.elapsed(), next_group=self.next_group,
                   policy=self.policy.state_dict())  # fmt: skip

    def _restore_group(self, saved: dict) -> None:
        group = restore_group(saved, self.archive, self.committed_expansions)
        self.groups[saved["id"]] = group
        for work in group.work:
            self.pending_jobs.append(work)
            self._mark(work, +1)
        if not group.work:
            self._finish_group(saved["id"])

    # -- budgets ---------------------------------------------------------------------------
    def evals_used(self) -> int:
        return int(self.tree.n_evals)

    def in_flight(self, kind: str) -> int:
        """Work of a kind started but not committed (held work included)."""
        return sum(1 for g in self.groups.values() for w in g.work if w.kind == kind)

    def evals_in_flight(self) -> int:
        return self.in_flight("evaluate")

    def budget_reason(self, counting_in_flight: bool = True) -> str | None:
        """Why nothing more may start (work in flight counts as spent), or, without
        `counting_in_flight`, why the budget is spent by committed work alone."""
        b = self.config.budget
        evals, expansions = self.evals_used(), self.expansions
        if not counting_in_flight:
            expansions -= self.in_flight("expand")
        else:
            evals += self.evals_in_flight()
        if b.evals is not None and evals >= b.evals:
            return f"evaluation budget reached ({b.evals})"
        if b.expansions is not None and expansions >= b.expansions:
            return f"expansion budget reached ({b.expansions})"
        if self.gateway.exhausted:
            return "FM budget reached"
        if b.wall_seconds is not None and self.elapsed() >= b.wall_seconds:
            return f"wall-time budget reached ({b.wall_seconds:.0f} s)"
        return None

    def update_budget(self) -> None:
        b = self.config.budget
        spent = [self.evals_used() / b.evals if b.evals else 0.0]
        if b.expansions:
            spent.append(self.expansions / b.expansions)
        if b.wall_seconds:
            spent.append(self.elapsed() / b.wall_seconds)
        self.tree.set_budget_fraction(min(1.0, max(spent)))

    # -- the loop --------------------------------------------------------------------------
    def run(self) -> str:
        """Grow until a budget, the policy or an error stops it. An executor passed in is
        the caller's (the final evaluation uses it next): it is left running."""
        pool = self.executor or executor_for(self.config, self.gateway, self.view)
        self.pool = pool
        try:
            self._loop()
            if self.config.on_stop == "abandon":
                for fut in self.futures:
                    pool.cancel(fut)
                if self.on_abort:
                    self.on_abort()  # removes the run's containers so workers end at once
            else:
                while self.futures:
                    self._collect(block=True)
        except BaseException:  # Ctrl-C or a bug: keep what is committed, stop the rest
            pool.shutdown(cancel=True)
            self.save()
            if self.on_abort:
                self.on_abort()
            raise
        if self.executor is None:
            pool.shutdown()
        self.save()
        return self.stop_reason or "stopped"

    def _loop(self) -> None:
        while True:
            self._collect(block=False)
            if self._paused():
                continue
            self._submit_pending()
            self.update_budget()
            reason = self.budget_reason()
            if reason:
                spent = self.budget_reason(counting_in_flight=False)
                if spent is None and self.futures:
                    # what runs fits the budget: it lands before the run stops (or is
                    # abandoned); a limit truly reached meanwhile is seen within a second
                    self._collect(block=True, most=1.0)
                    continue
                self.stop_reason = spent or reason
                return
            if len(self.futures) >= self.config.workers:
                self._collect(block=True)
                continue
            action = self.policy.next_action(self.tree)
            if isinstance(action, Stop):
                self.stop_reason = f"policy stopped: {action.reason}"
                return
            if isinstance(action, Wait):
                if not self.futures and self.tree.n_waiting:
                    time.sleep(1.0)  # manual quarantine: a person's `dgm approve` may reopen work
                    continue
                if not self.futures:
                    self.stop_reason = "the policy waits with nothing in flight"
                    return
                self._collect(block=True)
                continue
            self._start(action)

    def _start(self, action: Expand | Evaluate) -> None:
        gid = self.next_group
        self.next_group += 1
        if isinstance(action, Expand):
            jobs = [Work(gid, "expand", action.parent, index=self.expansions)]
            self.expansions += 1
        elif isinstance(action, Evaluate):
            left = self.config.budget.evals
            left = None if left is None else left - self.evals_used() - self.evals_in_flight()
            tasks = list(action.tasks)[:left] if left is not None else list(action.tasks)
            jobs = [Work(gid, "evaluate", action.node, t, self._attempt(action.node, t))
                    for t in tasks]  # fmt: skip
        else:
            raise TypeError(f"unknown action {action!r}")
        self.groups[gid] = Group(action, jobs)
        for job in jobs:
            self._mark(job, +1)
            self.pending_jobs.append(job)
        self.save()
        self._submit_pending()

    def _attempt(self, node: int, task: str) -> int:
        return sum(1 for e in self.archive.evaluations(node) if e.task == task)

    def _mark(self, job: Work, sign: int) -> None:
        if job.kind == "expand":
            self.tree.mark_in_flight(expand=job.node) if sign > 0 else self.tree.clear_in_flight(
                expand=job.node
            )
        elif sign > 0:
            self.tree.mark_in_flight(evaluate=job.node, task=job.task)
        else:
            self.tree.clear_in_flight(evaluate=job.node, task=job.task)

    def _submit_pending(self) -> None:
        if self.watch.pause_left() > 0:
            return  # paused: nothing starts until the back-off is over
        while self.pending_jobs and len(self.futures) < self.config.workers:
            job = self.pending_jobs.pop(0)
            if job.kind == "expand":
                fut = self.pool.submit(self.jobs.expansion(job.node, job.index))
            else:
                fut = self.pool.submit(self.jobs.evaluation(job.node, job.task, job.index))
            self.futures[fut] = job
            if self.view:
                self.view.started(job)

    def _collect(self, block: bool, most: float | None = None) -> None:
        """Take back what is done (waiting for one result when `block`, at most `most`
        seconds) and submit what is pending."""
        if not self.futures:
            return
        timeout = most if block else 0  # blocking with no `most`: until one is done
        done, _ = wait(list(self.futures), timeout=timeout, return_when=FIRST_COMPLETED)
        for fut in done:
            job = self.futures.pop(fut)
            try:
                done = fut.result()
                if done.lost:  # its node or worker died: nothing is known of the agent
                    self._lost(job, done)
                    continue
                result = self.jobs.finish(done)
                self.archive.log_event("job_ran", {**job.to_dict(), "where": done.node})
            except BudgetExceeded as exc:
                self._hold(job, exc)
                continue
            except ProviderDown as exc:
                self._provider_failed(job, exc)
                continue
            except Exception as exc:  # noqa: BLE001 - one broken job must not lose the run
                self._fail(job, exc)
                continue
            self.failures = 0
            self.watch.answered()
            self._commit(job, result)
        self._submit_pending()

    def _hold(self, job: Work, exc: Exception) -> None:
        """A job the run's FM budget or the provider cut short: neither a result nor a
        failure. It stays in its group, unfinished, as in-flight work does (a resume, or the
        end of a provider pause, runs it again)."""
        self._mark(job, -1)
        self.archive.log_event("job_held", {**job.to_dict(), "reason": str(exc)[:500]})
        self.save()
        if self.view:
            self.view.note(f"[yellow]not recorded[/yellow]: {job.kind} {job.node}: {exc}")

    def _lost(self, job: Work, done: JobResult) -> None:
        """Its node or worker died: queued again (still in flight, in its group), as a resume
        queues in-flight work; an expansion keeps its index, so it commits once."""
        key = (job.group, job.kind, job.node, job.task, job.index)
        self.losses[key] = self.losses.get(key, 0) + 1
        self.archive.log_event("job_lost", {**job.to_dict(), "where": done.node,
                                            "reason": done.reason})  # fmt: skip
        if self.losses[key] >= MAX_LOST:
            return self._fail(job, ExecutorError(f"lost {MAX_LOST} times: {done.reason}"))
        self.pending_jobs.insert(0, job)
        if self.view:
            self.view.note(f"[yellow]queued again[/yellow]: {job.kind} {job.node}: {done.reason}")

    # -- provider outages ------------------------------------------------------------------
    def _provider_failed(self, job: Work, exc: ProviderDown) -> None:
        self._hold(job, exc)
        self.watch.failed(job, exc)  # raises ProviderStop when the run must stop

    def _paused(self) -> bool:
        """While a provider pause lasts, wait for running work (never past the pause's end)
        and start nothing; at its end, queue the held jobs again."""
        left = self.watch.pause_left()
        if left > 0:
            if self.futures:
                wait(list(self.futures), timeout=min(left, 1.0), return_when=FIRST_COMPLETED)
            else:
                time.sleep(min(left, 0.5))
            return True
        for job in self.watch.release():
            group = self.groups.get(job.group)
            if group is not None and job in group.work:
                self._mark(job, +1)
                self.pending_jobs.insert(0, job)
        return False

    def _fail(self, job: Work, exc: Exception) -> None:
        """A job that raised (the sandbox or daemon failed, not the agent): logged and
        dropped; several in a row stop the run, with everything committed kept."""
        self._mark(job, -1)
        group = self.groups[job.group]
        group.work.remove(job)
        if not group.work:
            self._finish_group(job.group)
        self.archive.log_event("job_failed", {**job.to_dict(), "error": f"{exc!r}"[:500]})
        self.save()
        if self.view:
            self.view.note(f"[red]job failed[/red]: {job.kind} {job.node}: {exc}")
        self.failures += 1
        if self.failures >= MAX_FAILURES:
            raise LoopError(f"{MAX_FAILURES} jobs failed in a row; last: {exc}")

    def _commit(self, job: Work, result: Evaluation | Expansion) -> None:
        group = self.groups[job.group]
        self._mark(job, -1)
        if isinstance(result, Evaluation):
            r = result.result
            self.archive.record_evaluation(
                job.node, self.bench.benchmark.name, job.task, str(r.outcome),
                tokens=r.tokens, cost=r.cost, seconds=r.seconds, log_path=r.log_path,
                reason=r.reason,  # a tampered outcome's evidence, kept with the quarantine
            )  # fmt: skip
            success = str(r.outcome) == "resolved"
            self.tree.add_result(job.node, job.task, success)
            group.successes[job.task] = success
        else:
            node = self.archive.add_child(
                result.parent,
                files_dir=result.child_dir,
                entry=result.entry,
                problem_statement=result.problem_statement,
                status="valid" if result.valid else "invalid",
                reason=result.reason,
                meta=result.meta,
            )
            child = self.tree.add_node(result.parent, status="valid" if result.valid else "invalid")
            assert child == node.id, f"tree and archive disagree on ids ({child} != {node.id})"
            group.child, group.child_valid = node.id, result.valid
        group.work.remove(job)
        if not group.work:
            self._finish_group(job.group)
        self.save()
        if self.view:
            self.view.finished(job, result)

    def _finish_group(self, gid: int) -> None:
        group = self.groups.pop(gid)
        self.policy.tell(
            group.action,
            ActionResult(child=group.child, child_valid=group.child_valid,
                         successes=dict(group.successes)),
        )  # fmt: skip


def executor_for(config: RunConfig, gateway: Gateway, view: RunView | None = None) -> Executor:
    """The run's executor, one for the loop and the final evaluation (a Ray instance the
    run starts is started once)."""
    options = {"on_note": view.note} if view and config.executor == "ray" else {}
    return make_executor(config.executor, config.workers, gateway, config.ray_address,
                         **options)  # fmt: skip
