"""What a policy can ask the loop to do, what it is told back, and the Policy protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from dgm.errors import DgmError

if TYPE_CHECKING:
    from dgm.policies.tree import TreeState


class PolicyError(DgmError):
    """A bad policy name or parameter."""

    exit_code = 2


@dataclass(frozen=True)
class Expand:
    """Create a child of `parent` by self-modification."""

    parent: int


@dataclass(frozen=True)
class Evaluate:
    """Run node `node` on each of `tasks`."""

    node: int
    tasks: tuple[str, ...]


@dataclass(frozen=True)
class Wait:
    """Nothing to start now; ask again when some work in flight is done."""


@dataclass(frozen=True)
class Stop:
    """Nothing can be done at all."""

    reason: str


@dataclass
class ActionResult:
    """The outcome of one action: the child made (expansions) or the successes per task."""

    child: int | None = None
    child_valid: bool | None = None
    successes: dict[str, bool] = field(default_factory=dict)


Action = Expand | Evaluate | Wait | Stop


class Policy(Protocol):
    """Chooses the next action from the tree; holds only its parameters, RNG and plans."""

    name: str

    def next_action(self, tree: TreeState) -> Action: ...

    def tell(self, action: Expand | Evaluate, result: ActionResult) -> None: ...

    def final_agent(self, tree: TreeState) -> int: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, d: dict[str, Any]) -> None: ...
