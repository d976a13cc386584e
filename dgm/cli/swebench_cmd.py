"""`dgm swebench prepare`: build the instance images a SWE-bench subset needs, ahead of a run."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table


def register(app: typer.Typer) -> None:
    swebench_app = typer.Typer(help="SWE-bench: instance environments as images.")
    app.add_typer(swebench_app, name="swebench")

    @swebench_app.command("prepare")
    def prepare(
        path: Path = typer.Option(
            ..., "--path", help="A directory like shared/swebench, a dataset file or a TOML file."
        ),
        subset: str = typer.Option("full", help="small, medium, full, a named list or a file."),
        instances: str = typer.Option(None, "--instances", help="ID,ID: only these instances."),
        split: str = typer.Option("test", help="Split of a Hugging Face dataset."),
    ) -> None:
        """Build (or find, cached by content hash) the image of every instance of a subset;
        print each one's build time and size."""
        from benchmarks import get_benchmark

        err = Console(stderr=True)
        suite = get_benchmark("swebench", path=path, split=split, instances=instances, console=err)
        ids = suite.task_ids(subset)
        table = Table(title=f"swebench images ({len(ids)} instances)")
        for column in ("instance", "python", "image", "built now", "build s", "size MB"):
            table.add_column(column)
        start = time.monotonic()
        for task_id in ids:
            info = suite.prepare_instance(task_id)
            layers = {"dgm-swebench-base": "base", "dgm-swebench-env": "env"}
            built = ", ".join(layers.get(t.split(":")[0], "instance") for t in info["built"])
            table.add_row(
                task_id, info["python"], info["image"], built or "cached",
                f"{info['seconds']:.1f}", f"{info['size_mb']:.0f}",
            )  # fmt: skip
        Console().print(table)
        err.print(f"{len(ids)} instance images ready in {time.monotonic() - start:.1f} s")
