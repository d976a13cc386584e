"""`dgm runs`, `status`, `compare` and `plot` on a small real run, through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from archive import Archive
from dgm.cli import app
from dgm.views import Snapshot, compare_nodes

runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def test_runs_lists_the_run(small_run):
    out = invoke("runs", "--runs-dir", str(small_run.root.parent))
    assert "demo" in out and "finished" in out
    assert "0.75 (3/4, node 3)" in out
    assert "$0.1100" in out


def test_runs_with_no_runs(tmp_path):
    assert "no runs under" in invoke("runs", "--runs-dir", str(tmp_path))


def test_status_summarises_one_run(small_run):
    out = invoke("status", str(small_run.root))
    assert "finished" in out and "evaluation budget reached (60)" in out
    assert "5 (1 invalid, 4 valid)" in out
    assert "11 (1 empty, 1 error, 6 resolved, 3 unresolved)" in out
    assert "node 3" in out


def test_compare_shows_shared_tasks_diff_and_path(small_run):
    archive = Archive.open(small_run.root)
    c = compare_nodes(archive, Snapshot.from_archive(archive), 0, 3)
    assert [t for t, _, _ in c.shared] == ["t1", "t2", "t3"]
    assert c.shared[2] == ("t3", ["unresolved"], ["resolved", "empty"])
    assert c.path == [0, 1, 3] and c.ancestor == 0
    assert "+# change made by node 3" in c.diff_text
    out = invoke("compare", str(small_run.root), "4", "2")
    assert "4 [valid, 0/1]  ->  1 [valid, 2/3]  ->  0 [valid, 1/3] (common ancestor)" in out
    assert "->  2 [invalid, -]" in out
    assert "No task was evaluated on both node 4 and node 2" in out
    assert "-# change made by node 4" in out and "+# change made by node 2" in out
    out = invoke("compare", str(small_run.root), "1", "3")
    assert "t3" in out and "unresolved" in out and "resolved empty" in out


def test_per_test_results_in_show_and_compare(small_run):
    archive = Archive.open(small_run.root)
    c = compare_nodes(archive, Snapshot.from_archive(archive), 0, 1)
    # t1: node 0 unresolved (test_b fails), node 1 resolved; t3 unresolved in both
    assert c.tests == [("t1", "test_b", "fail", "pass")]
    out = invoke("compare", str(small_run.root), "0", "1")
    assert "Hidden tests that differ" in out and "test_b" in out
    out = invoke("show", str(small_run.root), "0")
    assert "tests not passed" in out and "t1: test_b fail" in out and "1/2" in out


def test_plot_writes_three_pngs(small_run, tmp_path):
    out = invoke("plot", str(small_run.root), "--out", str(tmp_path / "plots"))
    names = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert names == ["lineage.png", "progress.png", "scores_by_depth.png"]
    for name in names:
        data = (tmp_path / "plots" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
        assert name in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["status", "no-such-run"], "no run 'no-such-run'"),
        (["compare", "{run}", "0", "99"], "no node 99"),
        (["plot", "no-such-run", "--out", "x"], "no run 'no-such-run'"),
    ],
)
def test_unknown_run_or_node_is_one_line_and_exit_2(small_run, args, message):
    args = [a.format(run=small_run.root) for a in args]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "dgm", *args], capture_output=True, text=True, env=env,
        cwd=small_run.root.parent, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().startswith("error:") and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_status_watch_ends_at_once_on_a_finished_run(small_run):
    out = invoke("status", str(small_run.root), "--watch", "--interval", "0.1")
    assert "finished" in out and "node 3" in out


def test_serve_command_answers_on_loopback(small_run):
    import json
    import re
    import urllib.request

    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dgm", "serve", str(small_run.root)], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line).group(0)
        with urllib.request.urlopen(url + "api/tree", timeout=30) as resp:
            assert json.loads(resp.read())["id"] == [0, 1, 2, 3, 4]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
