"""Start or resume a run: check the config, wire the parts, drive the scheduler, summarise."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from rich.console import Console

from archive import Archive
from benchmarks import get_benchmark
from dgm.defaults import RUNS_DIR
from dgm.fm import Gateway, ProviderDown, validate_model
from dgm.policies import TreeState, final_agent, make_policy
from dgm.protocols import Executor, RunView
from dgm.run.config import RunConfig
from dgm.run.rundir import (
    RunDir,
    RunError,
    RunLock,
    create_run,
    is_complete,
    is_dead_end,
    open_run,
    root_missing,
    run_path,
)
from dgm.run.scheduler import Scheduler, executor_for
from dgm.run.workbench import Workbench
from sandbox import cleanup, ensure_image, remove_orphans, wait_for_removals

SEED_AGENT = Path(__file__).resolve().parent.parent / "seed_agent"
ARCHIVE_FILES = ("archive.git", *(f"archive.db{x}" for x in ("", "-wal", "-shm", "-journal")))

ViewFactory = Callable[[str, RunConfig, Archive, TreeState, Gateway],
                       AbstractContextManager[RunView]]  # fmt: skip
"""What the command line passes to show a run live: (run id, config, archive, tree, gateway)
-> a context manager giving the view (the views layer's `LiveView`)."""


class QuietView:
    """No display: the run's notes are printed one per line."""

    def __init__(self, console: Console, *_: object):
        self.console = console

    def __enter__(self) -> QuietView:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def started(self, work: object) -> None:
        pass

    def finished(self, work: object, result: object) -> None:
        pass

    def note(self, text: str) -> None:
        self.console.print(text)


@dataclass
class Summary:
    run: RunDir
    reason: str
    final: int
    final_score: tuple[int, int]
    seed_score: tuple[int, int]
    nodes: int
    invalid: int
    evaluations: int
    cost: float
    subset_size: int = 0
    final_evals: int = 0
    """Evaluations the final evaluation made, beyond the run's budget."""
    budget_evals: int | None = None


def check_config(config: RunConfig):
    """Everything that can be wrong with a config, found before anything starts."""
    benchmark = get_benchmark(config.benchmark, **config.benchmark_options())
    tasks = [t.id for t in benchmark.tasks(config.subset)]
    make_policy(config.policy, config.seed, tasks=tasks, **config.policy_params)
    validate_model(config.model, config.api_base, config.cost_unknown, config.budget.dollars)
    return benchmark, tasks


def start(config: RunConfig, console: Console, show: ViewFactory | None = None) -> Summary:
    check_config(config)
    return drive(create_run(config, build_archive), console, show)


def build_archive(run: RunDir) -> None:
    """The archive of a new run: the seed agent (without bytecode) as its root."""
    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "seed"
        shutil.copytree(SEED_AGENT, seed, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        Archive.create(run.root, seed).close()  # closed: the directory is renamed next


def resume(path: str, console: Console, runs_dir: Path = RUNS_DIR,
           show: ViewFactory | None = None) -> Summary:  # fmt: skip
    root = run_path(path, runs_dir)
    if not (root / "config.toml").is_file() and is_dead_end(root):
        shutil.rmtree(root)
        raise RunError(
            f"'{root}' was left half-made by a killed start, before its config was written: "
            "removed it; start the run again"
        )
    run = open_run(path, runs_dir)
    complete_dead_end(run, console)
    archive = Archive.open(run.root)
    if archive.get_state("finished"):
        raise RunError(f"run '{run.root}' has finished; browse it with `dgm tree {run.root}`")
    return drive(run, console, show)


def complete_dead_end(run: RunDir, console: Console) -> bool:
    """Give a run directory a killed start of an older version left without its archive
    root (so nothing was ever recorded in it) a fresh archive; true when it had to."""
    if is_complete(run.root):
        return False
    with RunLock(run):
        if is_complete(run.root):
            return False
        if (run.root / "archive.db").is_file() and not root_missing(run.root):
            raise RunError(f"run '{run.root}' is damaged: its archive has nodes but no git store")
        console.print(
            f"completing '{run.root}': a killed start (of an older version) left it without "
            "its archive root; nothing had been recorded"
        )
        for name in ARCHIVE_FILES:
            shutil.rmtree(run.root / name, ignore_errors=True)
            (run.root / name).unlink(missing_ok=True)
        run.logs.mkdir(exist_ok=True)
        build_archive(run)
    return True


def rebuild_tree(archive: Archive, tasks: list[str]) -> TreeState:
    """The policy's view, replayed from what the archive committed; it follows the
    archive's quarantine decisions (another process's `dgm approve` included)."""
    return TreeState.from_archive(archive, tasks)


def drive(run: RunDir, console: Console, show: ViewFactory | None = None) -> Summary:
    config = run.load_config()
    benchmark, tasks = check_config(config)
    ensure_image(console=console)
    benchmark.prepare(console=console)  # the suite's own images (polyglot's toolchains)
    with RunLock(run):
        archive = Archive.open(run.root)
        archive.set_quarantine_mode(config.quarantine)  # what a tampered evaluation does
        removed = remove_orphans(run=run.run_id)
        others, folders = cleanup.sweep()  # what any killed dgm process left behind
        if removed or others:
            console.print(f"removed {removed + others} leftover container(s) of killed runs")
        if folders:
            console.print(f"removed {folders} temporary folder(s) of killed dgm processes")
        gateway = config.gateway(archive, cache_dir=run.fm_cache, cache_mode=config.cache_mode,
                                 log_path=run.logs / "gateway.log")  # fmt: skip
        bench = Workbench(run, config, archive, benchmark, gateway)
        tree = rebuild_tree(archive, tasks)
        policy = make_policy(config.policy, config.seed, tasks=tasks, **config.policy_params)
        try:
            shown = (show or partial(QuietView, console))(
                run.run_id, config, archive, tree, gateway
            )
            with shown as view, executor_for(config, gateway, view) as pool:
                abort = partial(remove_orphans, run=run.run_id)
                scheduler = Scheduler(config, archive, tree, policy, bench, gateway, view,
                                      on_abort=abort, executor=pool)  # fmt: skip
                reason = scheduler.run()
                # the one definition every view uses; kept once its final evaluation began,
                # so a kill in it resumes evaluating the same node
                final = archive.get_state(FINAL_NODE)
                final = final_agent(policy, tree) if final is None else final
                view.note(f"stopped: {reason}; final agent: node {final}")
                if config.final_eval and gateway.exhausted:
                    view.note("final evaluation skipped: the FM budget is spent")
                elif config.final_eval:
                    if archive.get_state(FINAL_FROM) is None:
                        archive.put_state(FINAL_NODE, final)
                        archive.put_state(FINAL_FROM, len(archive.evaluations()))
                    final_evaluation(bench, archive, tasks, {0, final}, view, pool)
            start = archive.get_state(FINAL_FROM)
            finals = 0 if start is None else len(archive.evaluations()) - start
            done = {"reason": reason, "final": final, "final_evals": finals}
            archive.log_event("finished", done)
            archive.put_state("finished", done)
        except KeyboardInterrupt:
            console.print(
                f"interrupted: every committed result is kept; continue with "
                f"`dgm run --resume {run.root}`"
            )
            raise
        finally:
            bench.close()
            gateway.close()
            wait_for_removals()
            remove_orphans(run=run.run_id)
        return summarise(run, archive, reason, final, tasks)


FINAL_FROM = "final_evals_from"  # evaluations recorded when the final evaluation began
FINAL_NODE = "final_agent"  # the final agent that final evaluation is for


def final_evaluation(bench: Workbench, archive: Archive, tasks: list[str], nodes: set[int],
                     view: RunView | None = None,
                     pool: Executor | None = None) -> None:  # fmt: skip
    """Evaluate the final agent and the seed on every task of the subset they have not
    tried, so their scores share one denominator: the scheduler's jobs on the run's executor
    (a Ray run's cluster too), by the one evaluation pipeline (dgm/run/evaluation.py)."""
    from dgm.executors import make_executor
    from dgm.run.evaluation import RunTracker, evaluate
    from dgm.run.jobs import JobMaker

    maker, c = JobMaker(bench), bench.config
    jobs = [maker.evaluation(n, t, 0) for n in sorted(nodes) for t in tasks
            if t not in archive.evaluated_tasks(n)]  # fmt: skip
    if not jobs:
        return

    def record(job, done):
        ev = maker.finish(done)
        r = ev.result
        archive.record_evaluation(
            ev.node, bench.benchmark.name, ev.task, str(r.outcome),
            tokens=r.tokens, cost=r.cost, seconds=r.seconds, log_path=r.log_path,
            reason=r.reason,
        )  # fmt: skip
        return ev

    tracker = RunTracker(archive, view)
    own = pool is None  # a caller's executor stays up for the caller to shut down
    if own:
        pool = make_executor(c.executor, c.workers, bench.gateway, c.ray_address,
                             on_note=tracker.note)  # fmt: skip
    try:
        evaluate(jobs, record, pool, tracker=tracker, shutdown=own,
                 abort=lambda: remove_orphans(run=bench.run.run_id))  # fmt: skip
    except ProviderDown as exc:  # a refused key or model: every task would fail alike
        tracker.note(f"final evaluation stopped, nothing more recorded: {exc}")


def subset_score(archive, node: int, tasks: list[str]) -> tuple[int, int]:
    """Resolved tasks of the subset (latest result per task) and how many were tried."""
    latest = {}
    for e in archive.evaluations(node):
        latest[e.task] = e.outcome
    tried = [t for t in tasks if t in latest]
    return sum(latest[t] == "resolved" for t in tried), len(tried)


def summarise(run: RunDir, archive, reason: str, final: int, tasks: list[str]) -> Summary:
    nodes = archive.nodes()
    _, _, cost = archive.fm_totals()
    return Summary(
        run=run,
        reason=reason,
        final=final,
        final_score=subset_score(archive, final, tasks),
        seed_score=subset_score(archive, 0, tasks),
        nodes=len(nodes),
        invalid=sum(n.status == "invalid" for n in nodes),
        evaluations=len(archive.evaluations()),
        cost=cost,
        subset_size=len(tasks),
        final_evals=(archive.get_state("finished") or {}).get("final_evals", 0),
        budget_evals=run.load_config().budget.evals,
    )
