"""A small real run for the view tests: a real `archive.Archive` with a seed, children (one
invalid), evaluations with transcripts under logs/, FM calls and a finished state."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from archive import Archive
from dgm.run.config import RunConfig
from dgm.run.rundir import RunDir

SEED_AGENT = 'def main():\n    print("seed")\n\n\nif __name__ == "__main__":\n    main()\n'
# node: (parent, status, {task: [outcomes]})
PLAN = {
    0: (None, "valid", {"t1": ["unresolved"], "t2": ["resolved"], "t3": ["unresolved"]}),
    1: (0, "valid", {"t1": ["resolved"], "t2": ["resolved"], "t3": ["unresolved"]}),
    2: (0, "invalid", {}),
    3: (1, "valid", {"t1": ["resolved"], "t2": ["resolved"], "t3": ["resolved", "empty"]}),
    4: (1, "valid", {"t2": ["error"]}),
}
# The grader's per-test results kept in each evaluation's result.json, by outcome.
TESTS = {
    "resolved": {"test_a": "pass", "test_b": "pass"},
    "unresolved": {"test_a": "pass", "test_b": "fail"},
}


def make_run(root: Path, finished: bool = True) -> RunDir:
    """Build the run directory of PLAN under `root` (its name is the run's name), finished
    (naming node 3 its final agent) or not (as a live or stopped run)."""
    run = RunDir(root)
    root.mkdir(parents=True)
    run.config_file.write_text(RunConfig(name=root.name).to_toml())
    run.logs.mkdir()
    seed = root.parent / f"{root.name}-seed"
    seed.mkdir()
    (seed / "agent.py").write_text(SEED_AGENT)
    archive = Archive.create(root, seed)
    for node_id, (parent, status, _) in PLAN.items():
        if parent is None:
            continue
        files = root.parent / f"{root.name}-files-{node_id}"
        shutil.rmtree(files, ignore_errors=True)
        archive.materialize(parent, files)
        (files / "agent.py").write_text(
            (files / "agent.py").read_text() + f"\n# change made by node {node_id}\n"
        )
        child = archive.add_child(
            parent,
            files_dir=files,
            entry="t1",
            problem_statement=f"Make node {node_id} better at t1.",
            status=status,
            reason="does not compile" if status == "invalid" else None,
            meta={
                "expansion": node_id - 1,
                "diagnosis": {"weakness": f"weakness-{node_id}", "proposed_change": "retry"},
                "changed_files": ["agent.py"],
                "log": str(run.logs / f"expansion-{node_id - 1}.md"),
            },
        )
        assert child.id == node_id
        (run.logs / f"expansion-{node_id - 1}.md").write_text(f"# self-modification {node_id}\n")
    for node_id, (_, _, tasks) in PLAN.items():
        for task, outcomes in tasks.items():
            for attempt, outcome in enumerate(outcomes):
                log_dir = run.logs / f"node-{node_id}" / f"{task}-{attempt}"
                log_dir.mkdir(parents=True)
                (log_dir / "transcript.md").write_text(
                    f"# transcript node {node_id} {task}\n\noutcome: {outcome}\n"
                )
                tests = TESTS.get(outcome, {})
                (log_dir / "result.json").write_text(json.dumps({"tests": tests}))
                archive.record_fm_call(
                    f"s-{node_id}-{task}", node_id, task, "solve", "sim", 100, 50, 0.01, False,
                    0.1,
                )  # fmt: skip
                archive.record_evaluation(
                    node_id, "humaneval", task, outcome, tokens=150, cost=0.01, seconds=1.0,
                    log_path=str(log_dir),
                )  # fmt: skip
    if finished:
        archive.put_state("finished", {"reason": "evaluation budget reached (60)", "final": 3})
    return run


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> RunDir:
    return make_run(tmp_path_factory.mktemp("runs") / "demo")
