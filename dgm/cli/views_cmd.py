"""`dgm runs`, `dgm status`, `dgm compare`, `dgm plot`, `dgm serve` and `dgm replay`:
browsing what runs produced. Everything here only reads the run directory (replay writes
its new transcript under the run's `replays/` directory)."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.live import Live

from dgm.defaults import RUNS_DIR
from dgm.run.rundir import RunDir, list_runs, open_run

console = Console()
RUNS_DIR_OPTION = typer.Option(RUNS_DIR, "--runs-dir", help="Where runs live.")


def register(app: typer.Typer) -> None:
    for name, fn in (
        ("runs", runs),
        ("status", status),
        ("compare", compare),
        ("plot", plot),
        ("serve", serve),
        ("replay", replay),
    ):
        app.command(name)(fn)


def _open(run: str, runs_dir: Path):
    from archive import Archive

    rd = open_run(run, runs_dir)
    return rd, Archive.open(rd.root)


def runs(runs_dir: Path = RUNS_DIR_OPTION) -> None:
    """List the runs under ./runs: status, nodes, best score, evaluations, FM cost."""
    from dgm.views.runs import runs_table, summarise_run

    found = list_runs(runs_dir)
    if not found:
        console.print(f"no runs under {runs_dir}/ (start one with `dgm run`)")
        return
    console.print(runs_table([summarise_run(r) for r in found]))


def status(
    run: str = typer.Argument(..., help="Run name (under --runs-dir) or path."),
    watch: bool = typer.Option(False, "--watch", "-w", help="Refresh live while it runs."),
    interval: float = typer.Option(2.0, help="Seconds between refreshes with --watch."),
    runs_dir: Path = RUNS_DIR_OPTION,
) -> None:
    """One run's summary: status, nodes, evaluations by outcome, best node, FM cost."""
    from dgm.views.runs import status_view, summarise_run

    rd = open_run(run, runs_dir)
    summary = summarise_run(rd)
    if not watch:
        console.print(status_view(summary))
        return
    with Live(status_view(summary), console=console, refresh_per_second=4) as live:
        try:
            while not summary.status.startswith(("finished", "stopped")):
                time.sleep(interval)
                summary = summarise_run(rd)
                live.update(status_view(summary))
        except KeyboardInterrupt:
            pass


def compare(
    run: str = typer.Argument(..., help="Run name or path."),
    a: int = typer.Argument(..., help="A node id."),
    b: int = typer.Argument(..., help="Another node id."),
    runs_dir: Path = RUNS_DIR_OPTION,
) -> None:
    """Two agents side by side: outcomes on shared tasks, their diff, the lineage joining them."""
    from dgm.views.compare import compare_nodes, render_comparison
    from dgm.views.data import Snapshot

    _, archive = _open(run, runs_dir)
    snap = Snapshot.from_archive(archive)
    console.print(render_comparison(compare_nodes(archive, snap, a, b), snap))


def plot(
    run: str = typer.Argument(..., help="Run name or path."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory for the PNG files."),
    runs_dir: Path = RUNS_DIR_OPTION,
) -> None:
    """PNG plots: score vs evaluations and dollars, the lineage tree, scores by depth."""
    from dgm.views.data import Snapshot
    from dgm.views.plot import plot_all

    rd, archive = _open(run, runs_dir)
    for path in plot_all(Snapshot.from_archive(archive), out, rd.run_id):
        console.print(f"wrote {path}", soft_wrap=True, highlight=False)


def serve(
    run: str = typer.Argument(..., help="Run name or path."),
    port: int = typer.Option(0, help="Port on 127.0.0.1 (default: a free one)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log each request."),
    runs_dir: Path = RUNS_DIR_OPTION,
) -> None:
    """A local, read-only web page of the run's lineage (127.0.0.1 only). Ctrl-C stops it."""
    from dgm.views.server import ViewerServer

    rd, _ = _open(run, runs_dir)
    server = ViewerServer(rd, port=port, verbose=verbose)
    console.print(f"serving {rd.root} at [bold]{server.url}[/bold] (Ctrl-C stops)", soft_wrap=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def replay(
    run: str = typer.Argument(..., help="Run name or path."),
    node: int = typer.Argument(..., help="The node whose agent runs again."),
    task: str = typer.Option(..., "--task", "-t", help="The task id to run it on."),
    cached: bool = typer.Option(False, "--cached", help="Answer from the run's FM cache."),
    model: str = typer.Option(None, "--model", "-m", help="Run afresh with this model."),
    runs_dir: Path = RUNS_DIR_OPTION,
) -> None:
    """Run a node's agent again on a task and show the new result beside the original.

    --cached answers from the run's recorded FM responses, reproduces the original
    exactly and checks that it did; --model M runs afresh."""
    from dgm.run.replay import rerun_task
    from dgm.views.replay import compare_replay, replay_view

    rd: RunDir
    rd, archive = _open(run, runs_dir)
    rerun = rerun_task(rd, archive, node, task, cached=cached, model=model, console=console)
    result = compare_replay(rd, rerun)
    console.print(replay_view(result))
    if cached and not result.reproduced:
        raise typer.Exit(1)
