"""The seams of `dgm`, declared in one place: what the run's collaborators must provide.

Each is a `typing.Protocol`, so an implementation needs no base class, and a test or a
benchmark can pass its own (a Docker-free executor, a silent view, an in-memory ledger).

- `Benchmark` (defined in `benchmarks.base`, which may not import dgm): tasks and a grader.
- `Executor`: runs self-contained jobs (`dgm.executors`: local threads, Ray).
- `Ledger`: where the FM gateway writes one row per call (`archive.Archive`,
  `dgm.fm.MemoryLedger`).
- `Policy`: chooses the next action from the tree (`dgm.policies`).
- `RunView`: what the scheduler tells a live display (`dgm.views.live.LiveView`).
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Protocol

from archive.models import FMCall
from benchmarks.base import Benchmark

if TYPE_CHECKING:
    from dgm.executors.base import Job
    from dgm.policies.actions import Action, ActionResult, Evaluate, Expand
    from dgm.policies.tree import TreeState

__all__ = ["Benchmark", "Executor", "Ledger", "Policy", "RunView"]


class Executor(Protocol):
    """Runs jobs; `submit` never blocks on the job itself. A context manager that shuts
    down (waiting for running jobs) on exit."""

    name: str

    def submit(self, job: Job) -> Future: ...

    def cancel(self, future: Future) -> bool: ...

    def shutdown(self, cancel: bool = False) -> None: ...

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...


class Ledger(Protocol):
    """Records FM calls and gives them back (budgets start from what was spent)."""

    def record_fm_call(
        self, session: str, node: int | None, task: str | None, role: str, model: str,
        prompt_tokens: int, completion_tokens: int, cost: float, cached: bool,
        seconds: float, error: str | None = None, estimated: bool = False,
    ) -> None: ...  # fmt: skip

    def fm_calls(self, node: int | None = None) -> list[FMCall]: ...


class Policy(Protocol):
    """Chooses the next action from the tree; holds only its parameters, RNG and plans."""

    name: str

    def next_action(self, tree: TreeState) -> Action: ...

    def tell(self, action: Expand | Evaluate, result: ActionResult) -> None: ...

    def final_agent(self, tree: TreeState) -> int: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, d: dict[str, Any]) -> None: ...


class RunView(Protocol):
    """What the scheduler tells a display while a run grows. `work` has `kind`
    ("expand" | "evaluate"), `node`, `task`; `result` is the workbench's record."""

    def started(self, work: Any) -> None: ...

    def finished(self, work: Any, result: Any) -> None: ...

    def note(self, text: str) -> None: ...
