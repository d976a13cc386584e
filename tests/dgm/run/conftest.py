"""A fake run per test: real archive, policy and `sim` gateway; fake workbench, no Docker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dgm.run.config import RunConfig
from tests.dgm.run.fakes import FakeRun

TASKS = [f"t{i}" for i in range(4)]


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[Callable[..., FakeRun]]:
    """make_run(policy="greedy", tasks=TASKS, policy_params={...}, **RunConfig fields).

    Provider pauses default to 0 s, so a held job is tried again without a wait."""
    runs: list[FakeRun] = []

    def make(policy: str = "greedy", tasks: list[str] = TASKS,
             policy_params: dict[str, Any] | None = None, **fields: Any) -> FakeRun:  # fmt: skip
        fields.setdefault("workers", 1)
        fields.setdefault("provider", {})
        fields["provider"] = {"pause_first": 0, "pause_max": 0, **fields["provider"]}
        config = RunConfig(**fields)
        params = policy_params if policy_params is not None else {"eval_tasks": 2}
        run = FakeRun(tmp_path / f"r{len(runs)}", tasks, config, policy, **params)
        runs.append(run)
        return run

    yield make
    for run in runs:
        run.close()
