"""`dgm sandbox build|check|clean`: the sandbox image and a look at its limits."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from sandbox import IMAGE_NAME, Sandbox, SandboxConfig, cleanup, ensure_image, remove_orphans

PROBE = (
    "import os, socket, sys; print('python', sys.version.split()[0]); "
    "print('uid', os.getuid()); "
    "s = socket.socket(); s.settimeout(2)\n"
    "try:\n s.connect(('1.1.1.1', 53)); print('network', 'OPEN')\n"
    "except OSError as e:\n print('network', 'none (' + type(e).__name__ + ')')\n"
    "print('keys', [k for k in os.environ if 'KEY' in k or 'TOKEN' in k] or 'none')"
)


def register(app: typer.Typer) -> None:
    sandbox_app = typer.Typer(help="The Docker sandbox: build its image, check its limits.")
    app.add_typer(sandbox_app, name="sandbox")

    @sandbox_app.command("build")
    def build(
        force: bool = typer.Option(False, help="Rebuild even when up to date."),
        profile: str = typer.Option(
            "default", help="default (python3 and git) or polyglot (+ C++, Go, Java, JS, Rust)."
        ),
    ) -> None:
        """Build the sandbox image of a profile when it is missing or stale."""
        from sandbox.image import PROFILES

        if profile not in PROFILES:
            raise typer.BadParameter(f"unknown profile '{profile}' (choose {', '.join(PROFILES)})")
        console = Console(stderr=True)
        tag = ensure_image(console=console, force=force, profile=profile)
        console.print(f"sandbox image ready: [bold]{tag}[/bold]")

    @sandbox_app.command("check")
    def check() -> None:
        """Start one sandbox, run python in it and print the limits it enforces."""
        console = Console()
        ensure_image(console=Console(stderr=True))
        cfg = SandboxConfig()
        with Sandbox(cfg, labels={"dgm.run": "check"}) as sb:
            res = sb.run(["python3", "-c", PROBE], timeout=30)
        table = Table(title=f"sandbox {IMAGE_NAME}", show_header=False)
        for line in res.stdout.splitlines():
            key, _, value = line.partition(" ")
            table.add_row(key, value)
        table.add_row("memory", f"{cfg.memory_mb} MB (no swap)")
        table.add_row("cpus", f"{cfg.cpus:g}")
        table.add_row("pids", str(cfg.pids))
        table.add_row("root fs", "read-only")
        table.add_row("/work, /tmp", f"{cfg.workspace_mb} MB, {cfg.tmpfs_mb} MB tmpfs")
        table.add_row("capabilities", "none (cap-drop ALL, no-new-privileges)")
        table.add_row("command timeout", f"{cfg.command_timeout:g} s")
        table.add_row("output kept", f"{cfg.output_limit} chars (head and tail)")
        console.print(table)
        if res.exit_code != 0:
            raise typer.Exit(1)

    @sandbox_app.command("clean")
    def clean(
        all_: bool = typer.Option(
            False, "--all", help="Every dgm container, those of live runs and tests too."
        ),
    ) -> None:
        """Remove the containers and temporary folders of dgm processes that are gone."""
        containers, _ = cleanup.sweep()
        if all_:
            containers += remove_orphans()
        folders = cleanup.roots_removed  # with those the start-up of this command removed
        Console().print(f"removed {containers} container(s) and {folders} temporary folder(s)")
