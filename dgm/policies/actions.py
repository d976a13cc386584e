"""What a policy can ask the loop to do and what it is told back (the `Policy` protocol
itself is in `dgm.protocols`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from dgm.errors import DgmError


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
