"""Selection policies: which node to expand or evaluate next.

A policy reads a `TreeState` (kept by the loop or the simulator), returns an action, and is
told each action's outcome. It holds only its parameters, its RNG and its own plans, so the
same object drives a real run and a simulated one, and `state_dict` resumes it exactly.
"""

from __future__ import annotations

from typing import Any

from dgm.policies.actions import (
    Action,
    ActionResult,
    Evaluate,
    Expand,
    PolicyError,
    Stop,
    Wait,
)
from dgm.policies.base import BasePolicy, posterior_mean
from dgm.policies.dgm_policy import DGMPolicy
from dgm.policies.final import final_agent
from dgm.policies.hgm import HGMPolicy, beta_lower_quantile, cooldown_tau
from dgm.policies.simple import GreedyPolicy, LatestPolicy, RandomPolicy
from dgm.policies.tree import INVALID, PENDING, QUARANTINED, VALID, TreeState
from dgm.protocols import Policy

_CLASSES: dict[str, type[BasePolicy]] = {
    cls.name: cls for cls in (DGMPolicy, HGMPolicy, GreedyPolicy, RandomPolicy, LatestPolicy)
}
POLICIES: list[str] = list(_CLASSES)


def make_policy(name: str, seed: int, tasks: list[str], **params: Any) -> BasePolicy:
    """The policy called `name`, seeded; unknown names or parameters raise PolicyError."""
    cls = _CLASSES.get(name)
    if cls is None:
        raise PolicyError(f"unknown policy '{name}' (known: {', '.join(POLICIES)})")
    return cls(seed, tasks, **params)


__all__ = [
    "Action",
    "ActionResult",
    "BasePolicy",
    "DGMPolicy",
    "Evaluate",
    "Expand",
    "GreedyPolicy",
    "HGMPolicy",
    "INVALID",
    "LatestPolicy",
    "PENDING",
    "POLICIES",
    "Policy",
    "PolicyError",
    "QUARANTINED",
    "RandomPolicy",
    "Stop",
    "TreeState",
    "VALID",
    "Wait",
    "beta_lower_quantile",
    "cooldown_tau",
    "final_agent",
    "make_policy",
    "posterior_mean",
]
