"""Start or resume a run: check the config, wire the parts, drive the scheduler, summarise."""

from __future__ import annotations

import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from archive import Archive
from benchmarks import get_benchmark
from dgm.evolve.workbench import Workbench
from dgm.fm import BudgetExceeded, Gateway, ProviderDown, validate_model
from dgm.policies import TreeState, make_policy
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
from dgm.run.scheduler import Scheduler
from dgm.views.live import LiveView
from sandbox import cleanup, ensure_image, remove_orphans, wait_for_removals

SEED_AGENT = Path(__file__).resolve().parent.parent / "seed_agent"
ARCHIVE_FILES = ("archive.git", *(f"archive.db{x}" for x in ("", "-wal", "-shm", "-journal")))


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


def start(config: RunConfig, console: Console) -> Summary:
    check_config(config)
    return drive(create_run(config, build_archive), console)


def build_archive(run: RunDir) -> None:
    """The archive of a new run: the seed agent (without bytecode) as its root."""
    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "seed"
        shutil.copytree(SEED_AGENT, seed, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        Archive.create(run.root, seed).close()  # closed: the directory is renamed next


def resume(path: str, console: Console, runs_dir: Path = Path("runs")) -> Summary:
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
    return drive(run, console)


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


def drive(run: RunDir, console: Console) -> Summary:
    config = run.load_config()
    benchmark, tasks = check_config(config)
    ensure_image(console=console)
    prepare = getattr(benchmark, "prepare", None)
    if prepare is not None:
        prepare(console=console)  # the suite's own images (polyglot's toolchains)
    with RunLock(run):
        archive = Archive.open(run.root)
        archive.set_quarantine_mode(config.quarantine)  # what a tampered evaluation does
        removed = remove_orphans(run=run.run_id)
        others, folders = cleanup.sweep()  # what any killed dgm process left behind
        if removed or others:
            console.print(f"removed {removed + others} leftover container(s) of killed runs")
        if folders:
            console.print(f"removed {folders} temporary folder(s) of killed dgm processes")
        gateway = Gateway(
            ledger=archive,
            cache_dir=run.fm_cache,
            cache_mode=config.cache_mode,
            log_path=run.logs / "gateway.log",
            **config.gateway_options(),
        )
        bench = Workbench(run, config, archive, benchmark, gateway)
        tree = rebuild_tree(archive, tasks)
        policy = make_policy(config.policy, config.seed, tasks=tasks, **config.policy_params)
        try:
            with LiveView(console, run.run_id, config, archive, tree, gateway) as view:
                scheduler = Scheduler(
                    config, archive, tree, policy, bench, gateway, view,
                    on_abort=lambda: remove_orphans(run=run.run_id),
                )  # fmt: skip
                reason = scheduler.run()
                final = policy.final_agent(tree)
                view.note(f"stopped: {reason}; final agent: node {final}")
                if config.final_eval and gateway.exhausted:
                    view.note("final evaluation skipped: the FM budget is spent")
                elif config.final_eval:
                    if archive.get_state(FINAL_FROM) is None:  # kept across a kill in it
                        archive.put_state(FINAL_FROM, len(archive.evaluations()))
                    final_evaluation(bench, archive, tasks, {0, final}, config.workers)
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


def final_evaluation(bench: Workbench, archive, tasks, nodes: set[int], workers: int) -> None:
    """Evaluate the final agent and the seed on every task of the subset they have not
    tried, so their scores share one denominator."""
    jobs = [(n, t) for n in sorted(nodes) for t in tasks if t not in archive.evaluated_tasks(n)]
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(bench.evaluate, n, t, 0) for n, t in jobs]
        for fut in futures:
            try:
                ev = fut.result()
            except (BudgetExceeded, ProviderDown):
                continue  # the budget or the provider failed it: no result, not a false one
            r = ev.result
            archive.record_evaluation(
                ev.node, bench.benchmark.name, ev.task, str(r.outcome),
                tokens=r.tokens, cost=r.cost, seconds=r.seconds, log_path=r.log_path,
                reason=r.reason,
            )  # fmt: skip


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
