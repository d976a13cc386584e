"""`dgm tree`, `show`, `diff`, `export` on a small real archive, through the real CLI."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archive import Archive
from dgm.cli import app, main

runner = CliRunner()


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "agent.py").write_text("print('seed')\n")
    (seed / "tools.py").write_text("a = 1\nb = 2\n")
    run = tmp_path / "runs" / "demo"
    archive = Archive.create(run, seed)
    diff = "--- a/tools.py\n+++ b/tools.py\n@@ -1,2 +1,3 @@\n a = 1\n-b = 2\n+b = 3\n+c = 4\n"
    archive.add_child(0, diff=diff, entry="HumanEval/7", problem_statement="Make b three.",
                      meta={"diagnosis": {"weakness": "b is two"}})  # fmt: skip
    archive.add_child(1, diff="", status="invalid", reason="does not compile")
    archive.add_child(0, diff="", entry="empty_patches")
    for outcome in ("resolved", "resolved", "unresolved"):
        archive.record_evaluation(1, "humaneval", "HumanEval/7", outcome, tokens=5, cost=0.25)
    archive.record_evaluation(3, "humaneval", "HumanEval/1", "error")
    archive.record_fm_call("s", 1, "HumanEval/7", "solve", "sim", 10, 5, 0.125, False, 0.3)
    return run


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def exit_code(monkeypatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["dgm", *args])
    with pytest.raises(SystemExit) as info:
        main()
    return info.value.code


def test_tree_shows_scores_status_entry_and_change(run_dir):
    out = invoke("tree", str(run_dir))
    lines = out.splitlines()
    row1 = next(line for line in lines if "HumanEval/7" in line)
    assert "own 2/3 0.67" in row1 and "clade 2/3" in row1 and "+2 -1" in row1
    row2 = next(line for line in lines if "invalid" in line)
    assert "2  own 0/0  clade 0/0  invalid" in row2
    assert "clade 2/4 0.50" in out.splitlines()[0]


def test_tree_options(run_dir):
    by_score = invoke("tree", str(run_dir), "--sort", "score").splitlines()
    assert "HumanEval/7" in by_score[1], "the better child comes first"
    by_id = invoke("tree", str(run_dir), "--sort", "id").splitlines()
    assert "HumanEval/7" in by_id[1]
    shallow = invoke("tree", str(run_dir), "--depth", "1")
    assert "1 more children" in shallow and "does not compile" not in shallow
    picky = invoke("tree", str(run_dir), "--min-evals", "2")
    assert "empty_patches" not in picky and "HumanEval/7" in picky


def test_tree_finds_a_run_by_name_under_runs(run_dir, monkeypatch):
    monkeypatch.chdir(run_dir.parent.parent)
    assert "HumanEval/7" in invoke("tree", "demo")


def test_show_lists_everything_about_a_node(run_dir):
    out = invoke("show", str(run_dir), "1")
    for text in ("Make b three.", "weakness", "HumanEval/7", "resolved", "unresolved",
                 Archive.open(run_dir).node(1).commit, "$0.1250", "2/3", "0 -> 1"):  # fmt: skip
        assert text in out
    assert "does not compile" in invoke("show", str(run_dir), "2")


def test_diff_and_stat(run_dir):
    out = invoke("diff", str(run_dir), "0", "1")
    assert "+b = 3" in out and "-b = 2" in out
    stat = invoke("diff", str(run_dir), "0", "1", "--stat")
    assert "tools.py" in stat and "1 files" in stat


def test_export_writes_the_source(run_dir, tmp_path):
    dest = tmp_path / "out"
    assert "exported node 1" in invoke("export", str(run_dir), "1", str(dest))
    assert (dest / "tools.py").read_text() == "a = 1\nb = 3\nc = 4\n"


def test_bad_input_is_one_line_and_exit_code_2(run_dir, tmp_path, monkeypatch, capsys):
    assert exit_code(monkeypatch, "show", str(run_dir), "42") == 2
    assert capsys.readouterr().err.strip() == "error: unknown node 42"
    assert exit_code(monkeypatch, "tree", str(tmp_path / "nope")) == 2
    assert exit_code(monkeypatch, "tree", str(tmp_path)) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert exit_code(monkeypatch, "tree", str(run_dir), "--sort", "size") == 2
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    assert exit_code(monkeypatch, "export", str(run_dir), "1", str(tmp_path / "full")) == 2
