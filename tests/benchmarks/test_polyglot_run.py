"""A whole `dgm run` on polyglot exercises across languages with the `sim` model at fault
rate 0: the seed agent writes each reference, and every evaluation of the seed resolves.

The config names the checkout by a path relative to the config file (the run is started from
another directory), and the languages by the `--languages` flag.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from archive import Archive

ROOT = Path(__file__).resolve().parents[2]
CHECKOUT = Path(
    os.environ.get("DGM_POLYGLOT_PATH") or ROOT.parent / "shared" / "polyglot-benchmark"
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHECKOUT / "python" / "exercises").is_dir(),
        reason=f"no polyglot benchmark checkout at {CHECKOUT} (set DGM_POLYGLOT_PATH)",
    ),
]


def dgm(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "dgm", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=1500,
    )  # fmt: skip


def test_sim_resolves_a_cross_language_subset_in_a_whole_run(tmp_path, docker_daemon):
    configs = tmp_path / "configs"
    configs.mkdir()
    relative = os.path.relpath(CHECKOUT, configs)
    (configs / "run.toml").write_text(
        f'benchmark = "polyglot"\nbenchmark_path = "{relative}"\nsubset = "small"\n'
        "sim_fault_rate = 0.0\nfinal_eval = false\n"
    )
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    proc = dgm(
        "run", "--config", str(configs / "run.toml"), "--languages", "go,java,javascript,python",
        "--name", "pg", "--seed", "1", "--workers", "2", "--budget-evals", "8",
        "--policy", "hgm", cwd=elsewhere,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    archive = Archive.open(elsewhere / "runs" / "pg")
    seed = [e for e in archive.evaluations(0)]
    assert seed, "the seed was evaluated"
    assert all(e.outcome == "resolved" for e in seed), [(e.task, e.outcome) for e in seed]
    languages = {e.task.split("/")[0] for e in archive.evaluations()}
    assert len(languages) >= 2, languages
    assert languages <= {"go", "java", "javascript", "python"}


def test_run_names_the_missing_checkout_flag(tmp_path):
    proc = dgm("run", "--benchmark", "polyglot", "--name", "x", cwd=tmp_path)
    assert proc.returncode == 2
    assert "--benchmark-path" in proc.stderr + proc.stdout
    proc = dgm(
        "run", "--benchmark", "polyglot", "--benchmark-path", str(CHECKOUT),
        "--languages", "cobol", "--name", "x", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "unknown polyglot language 'cobol'" in proc.stderr + proc.stdout
