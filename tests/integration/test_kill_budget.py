"""The budget line is honest: final evaluations beyond `--budget-evals` are counted and said
(run summary and `dgm status`), from what a real archive recorded."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from archive import Archive
from dgm.cli import run_cmd
from dgm.run import lifecycle as runner
from dgm.run.config import RunConfig
from dgm.run.rundir import create_run
from dgm.views.runs import status_view, summarise_run

TASKS = [f"HumanEval/{i}" for i in range(4)]


def test_final_evaluations_beyond_the_budget_are_counted_and_said(
    tmp_path: Path, monkeypatch
) -> None:
    cfg = RunConfig.load(None, name="b", runs_dir=tmp_path, **{"budget.evals": 2})
    run = create_run(cfg, runner.build_archive)
    archive = Archive.open(run.root)
    for task in TASKS[:2]:  # the loop's two evaluations, the whole budget
        archive.record_evaluation(0, "humaneval", task, "resolved")
    # What `drive` stores before and after the final evaluation of the seed.
    archive.put_state(runner.FINAL_FROM, len(archive.evaluations()))
    for task in TASKS[2:]:
        archive.record_evaluation(0, "humaneval", task, "unresolved")
    finals = len(archive.evaluations()) - archive.get_state(runner.FINAL_FROM)
    archive.put_state("finished", {"reason": "evaluation budget reached (2)", "final": 0,
                                   "final_evals": finals})  # fmt: skip

    summary = runner.summarise(run, archive, "evaluation budget reached (2)", 0, TASKS)
    archive.close()
    assert (summary.evaluations, summary.final_evals, summary.budget_evals) == (4, 2, 2)
    out = Console(record=True, width=200)
    monkeypatch.setattr(run_cmd, "console", out)
    run_cmd.report(summary)
    text = out.export_text()
    assert "2 by the loop (budget 2) + 2 final evaluations" in text
    assert "beyond the budget" in text

    status = Console(record=True, width=200)
    status.print(status_view(summarise_run(run)))
    line = next(ln for ln in status.export_text().splitlines() if "evaluations" in ln)
    assert "4" in line and "of a budget of 2" in line
    assert "2 of them final evaluations beyond the budget" in line
