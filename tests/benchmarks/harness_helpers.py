"""Run the grading harness on the host's Python (no Docker): fast checks of many tasks."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

from benchmarks import harness


def run_harness(task, files: dict[str, str], root: Path) -> dict:
    """The harness's report for `files` graded in `root` by this machine's python3."""
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    nonce = secrets.token_hex(8)
    (root / harness.JOB_FILE).write_bytes(harness.job_bytes(task, nonce, workdir=str(root)))
    proc = subprocess.run(
        [sys.executable, *harness.COMMAND[1:]], capture_output=True, cwd=root, timeout=300
    )
    report, problem = harness.read_verdict(
        proc.stdout.decode(), nonce, lambda path: Path(path).read_bytes()
    )
    assert report is not None, (problem, proc.stderr.decode()[-2000:])
    return report
