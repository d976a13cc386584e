"""`dgm replay` on a tiny real run (real Docker, the `sim` model): a cached replay reproduces
the recorded outcome and transcript; unknown tasks and unevaluated pairs are exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace as NS

import pytest

from dgm.views.replay import Replay, without_clock

RUN_TOML = """\
runs_dir = "{runs}"
name = "tiny"
final_eval = false
workers = 2
[budget]
evals = 2
expansions = 1
"""


def dgm(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, "-m", "dgm", *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


def test_clock_readings_are_masked():
    a = "drwxr-xr-x 2 agent agent 60 Nov 26 13:53 .\nat 2026-11-26 13:53:10 done\n"
    b = "drwxr-xr-x 2 agent agent 60 Nov 26 13:54 .\nat 2026-11-26 13:59:02 done\n"
    assert without_clock(a) == without_clock(b)
    assert without_clock("value 13 of 53") == "value 13 of 53"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, docker_daemon) -> Path:
    cwd = tmp_path_factory.mktemp("replay")
    (cwd / "run.toml").write_text(RUN_TOML.format(runs=cwd / "runs"))
    proc = dgm("run", "-c", "run.toml", cwd=cwd)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return cwd / "runs" / "tiny"


def _steps(transcript: str) -> list[str]:
    return [without_clock(step) for step in transcript.split("\n## Step ")]


def test_reproduction_is_judged_on_outcome_and_transcript_without_clock():
    original = NS(outcome="resolved", tokens=1, cost=0.0, seconds=1.0, log_path="x")
    new = NS(outcome="resolved", tokens=1, cost=0.0, seconds=2.0, log_path="y")
    a = "## Step 1\n-rw-r--r-- 1 agent agent 348 Nov 26 13:53 solution.py\n"
    b = a.replace("13:53", "14:07")
    assert Replay(0, "t", "cached", original, new, a, a).identical
    clock_only = Replay(0, "t", "cached", original, new, a, b)
    assert not clock_only.identical and clock_only.reproduced
    assert not Replay(0, "t", "cached", original, new, a, a + "more\n").reproduced
    failed = NS(outcome="unresolved", tokens=1, cost=0.0, seconds=2.0, log_path="y")
    assert not Replay(0, "t", "cached", original, failed, a, a).reproduced


@pytest.mark.docker
def test_cached_replay_answers_from_the_recorded_run(tiny_run):
    """A cached replay reproduces the recorded transcript and outcome exactly: the agent's
    tool outputs are deterministic (the sim looks at the workspace with `ls -R`, no clock
    times), so every FM answer comes from the run's cache."""
    from archive import Archive

    evaluation = Archive.open(tiny_run).evaluations(0)[0]
    proc = dgm("replay", str(tiny_run), "0", "--task", evaluation.task, "--cached",
               cwd=tiny_run.parent)  # fmt: skip
    replays = list((tiny_run / "replays" / "node-0").rglob("transcript.md"))
    assert len(replays) == 1, proc.stdout + proc.stderr
    new = replays[0].read_text()
    original = (Path(evaluation.log_path) / "transcript.md").read_text()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Reproduced" in proc.stdout and evaluation.outcome in proc.stdout
    assert "replay cache miss" not in new
    assert without_clock(new) == without_clock(original)


@pytest.mark.docker
def test_replay_of_unknown_task_or_unevaluated_pair_is_exit_2(tiny_run):
    from archive import Archive

    tried = {e.task for e in Archive.open(tiny_run).evaluations(0)}
    untried = next(t for t in ("HumanEval/1", "HumanEval/2", "HumanEval/3") if t not in tried)
    for args, message in (
        (["0", "--task", "Nope/1", "--cached"], "unknown humaneval task"),
        (["9", "--task", "HumanEval/0", "--cached"], "no node 9"),
        (["0", "--task", untried, "--cached"], "never evaluated"),
        (["0", "--task", "HumanEval/0"], "exactly one of --cached"),
    ):
        proc = dgm("replay", str(tiny_run), *args, cwd=tiny_run.parent)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert proc.stderr.startswith("error:") and message in proc.stderr
