"""Job functions for the pipeline's tests: no Docker, behaviour set by the job's settings."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

from dgm.executors import Job, JobContext
from dgm.fm import BudgetExceeded, ProviderDown

WORK = "tests.dgm.run.fakejobs:work"


def job(key: str, marks: Path, **settings) -> Job:
    return Job("evaluate", key, WORK, settings={"marks": str(marks), **settings},
               tags={"node": 0, "task": key})  # fmt: skip


def work(job: Job, ctx: JobContext) -> dict:
    """Marks its start and end in `marks`; raises what `settings.fail` names; with
    `settings.until`, runs until that file exists (as an agent runs until its container is
    removed)."""
    s = job.settings
    marks = Path(s["marks"])
    (marks / f"{job.key}.start").touch()
    fail = s.get("fail")
    if fail == "budget":
        raise BudgetExceeded("the run's FM budget is spent")
    if fail == "provider":
        raise ProviderDown("provider failed: 503 after 3 attempts")
    if fail == "refused":
        raise ProviderDown("provider refused the key", fatal=True)
    if fail:
        raise RuntimeError(f"{fail}\nsecond line")
    deadline = time.monotonic() + 60
    while s.get("until") and not Path(s["until"]).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    (marks / f"{job.key}.end").touch()
    return {"outcome": s.get("outcome", "resolved"), "node": ctx.node}


def finish(job: Job, result) -> SimpleNamespace:
    return SimpleNamespace(outcome=result.value["outcome"], key=job.key, node=result.node)
