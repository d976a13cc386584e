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
from dgm.config import RunConfig
from dgm.fm import Budget, BudgetExceeded, Gateway, validate_model
from dgm.live import LiveView
from dgm.loop import Scheduler
from dgm.policies import TreeState, make_policy
from dgm.rundir import RunDir, RunError, RunLock, create_run, open_run
from dgm.workbench import Workbench
from sandbox import ensure_image, remove_orphans, wait_for_removals

SEED_AGENT = Path(__file__).parent / "seed_agent"


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


def check_config(config: RunConfig):
    """Everything that can be wrong with a config, found before anything starts."""
    options = {"path": config.benchmark_path} if config.benchmark_path else {}
    benchmark = get_benchmark(config.benchmark, **options)
    tasks = [t.id for t in benchmark.tasks(config.subset)]
    make_policy(config.policy, config.seed, tasks=tasks, **config.policy_params)
    validate_model(config.model, config.api_base, config.cost_unknown)
    return benchmark, tasks


def start(config: RunConfig, console: Console) -> Summary:
    check_config(config)
    run = create_run(config)
    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "seed"
        shutil.copytree(SEED_AGENT, seed, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        Archive.create(run.root, seed)
    return drive(run, console)


def resume(path: str, console: Console, runs_dir: Path = Path("runs")) -> Summary:
    run = open_run(path, runs_dir)
    archive = Archive.open(run.root)
    if archive.get_state("finished"):
        raise RunError(f"run '{run.root}' has finished; browse it with `dgm tree {run.root}`")
    return drive(run, console)


def rebuild_tree(archive: Archive, tasks: list[str]) -> TreeState:
    """The policy's view, replayed from what the archive committed."""
    tree = TreeState(tasks)
    for node in sorted(archive.nodes(), key=lambda n: n.id):
        if node.parent is None:
            tree.set_status(0, node.status)
            continue
        assert tree.add_node(node.parent, status=node.status) == node.id
    for e in archive.evaluations():
        tree.add_result(e.node, e.task, e.outcome == "resolved")
    return tree


def drive(run: RunDir, console: Console) -> Summary:
    config = run.load_config()
    benchmark, tasks = check_config(config)
    ensure_image(console=console)
    with RunLock(run):
        archive = Archive.open(run.root)
        removed = remove_orphans(run=run.run_id)
        if removed:
            console.print(f"removed {removed} leftover container(s) of this run")
        gateway = Gateway(
            model=config.model,
            api_base=config.api_base,
            ledger=archive,
            budget=Budget(dollars=config.budget.dollars),
            cache_dir=run.fm_cache,
            cache_mode=config.cache_mode,
            seed=config.seed,
            cost_unknown=config.cost_unknown,
            sim_fault_rate=config.sim_fault_rate,
            sim_broken_weight=config.sim_broken_weight,
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
                    final_evaluation(bench, archive, tasks, {0, final}, config.workers)
            archive.log_event("finished", {"reason": reason, "final": final})
            archive.put_state("finished", {"reason": reason, "final": final})
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


def final_evaluation(bench: Workbench, archive, tasks, nodes: set[int], workers: int) -> None:
    """Evaluate the final agent and the seed on every task of the subset they have not
    tried, so their scores share one denominator."""
    jobs = [(n, t) for n in sorted(nodes) for t in tasks if t not in archive.evaluated_tasks(n)]
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(bench.evaluate, n, t, 0) for n, t in jobs]
        for fut in futures:
            try:
                ev = fut.result()
            except BudgetExceeded:
                continue  # the budget ran out under it: no result rather than a false one
            r = ev.result
            archive.record_evaluation(
                ev.node, bench.benchmark.name, ev.task, str(r.outcome),
                tokens=r.tokens, cost=r.cost, seconds=r.seconds, log_path=r.log_path,
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
    )
