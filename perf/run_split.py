"""Where a finished run's wall time went: agent sandboxes, clean-room grading, expansions,
and what is left for the loop itself (selection, archive writes, bookkeeping, waiting).

    .venv/bin/python perf/run_split.py RUN_DIR

Sandbox work runs on N workers at once, so worker-seconds are divided by N to compare with
the wall time; the loop's own time per decision is measured apart by perf/loop_bench.py.
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

from archive import Archive


def main() -> None:
    run = Path(sys.argv[1])
    archive = Archive.open(run)
    workers = tomllib.loads((run / "config.toml").read_text()).get("workers", 1)
    evals = archive.evaluations()
    # From the seed's commit to the last record (a resumed run's downtime counts too).
    last = max([e.created for e in archive.events()] + [e.created for e in evals])
    wall = last - archive.node(0).created
    total_eval = sum(e.seconds for e in evals)
    grading = 0.0
    for e in evals:
        result = Path(e.log_path or "") / "result.json"
        if result.is_file():
            grading += json.loads(result.read_text()).get("grade_seconds") or 0.0
    expansions = sum(float(n.meta.get("seconds", 0.0)) for n in archive.nodes())
    busy = (total_eval + expansions) / workers
    print(f"run {run.name}: {len(evals)} evaluations, {len(archive.nodes()) - 1} expansions, "
          f"{workers} workers")  # fmt: skip
    print(f"wall time (start to last record)      {wall:8.1f} s")
    print(f"agent sandboxes (worker-s / workers) {(total_eval - grading) / workers:8.1f} s")
    print(f"grading sandboxes                    {grading / workers:8.1f} s")
    print(f"expansions (diagnose, self-modify, validate) {expansions / workers:8.1f} s")
    print(
        f"left: the loop itself and idle workers {max(wall - busy, 0.0):8.1f} s "
        f"({max(wall - busy, 0.0) / wall:.0%} of wall)"
        if wall
        else ""
    )


if __name__ == "__main__":
    main()
