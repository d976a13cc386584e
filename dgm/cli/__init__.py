"""The `dgm` command line. Each command group lives in `dgm/cli/` and registers itself."""

from __future__ import annotations

import importlib
import signal
import sys

import typer
from rich.console import Console

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="dgm: grow, evaluate and browse archives of self-modifying coding agents.",
)
err = Console(stderr=True)


@app.command()
def version() -> None:
    """Print the dgm version."""
    from dgm import __version__

    print(__version__)


# One module per command group; each defines `register(app)`.
COMMAND_MODULES = [
    "sandbox_cmd",
    "archive_cmd",
    "simulate_cmd",
    "eval_cmd",
    "run_cmd",
    "views_cmd",
    "swebench_cmd",
]

for _name in COMMAND_MODULES:
    importlib.import_module(f"dgm.cli.{_name}").register(app)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Entry point: run the app, turning our errors into one line and an exit code."""
    # SIGTERM (a scheduler, `kill`) stops as cleanly as Ctrl-C: work committed, containers
    # removed, a resume hint printed.
    signal.signal(signal.SIGTERM, _interrupt)
    # Temporary folders and sockets in a scratch root this process owns: after a kill, the
    # next dgm process removes them (sandbox/cleanup.py).
    from sandbox import cleanup

    cleanup.use_for_tempfiles()
    cleanup.sweep_roots()
    try:
        rv = app(standalone_mode=False)
        if isinstance(rv, int) and rv:
            sys.exit(rv)
    except KeyboardInterrupt:
        err.print("[red]interrupted[/red]")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - the boundary where errors become exit codes
        code = getattr(exc, "exit_code", None)
        if isinstance(code, int):
            err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            sys.exit(code)
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        raise
