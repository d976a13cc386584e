"""What every policy shares: parameters checked by name, a seeded RNG with a saveable state,
posterior scores, and the rule for Wait versus Stop."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from dgm.policies.actions import ActionResult, Evaluate, Expand, PolicyError, Stop, Wait
from dgm.policies.tree import VALID, TreeState


def posterior_mean(s: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Mean of Beta(1 + s, 1 + n - s): scores on one footing whatever each node's trials."""
    return (s + 1.0) / (n + 2.0)


def wait_or_stop(tree: TreeState, why: str) -> Wait | Stop:
    """Nothing to start: wait when work is in flight (its results may open options) or a
    quarantined node waits for a person's decision (an approval may open options)."""
    return Wait() if tree.n_in_flight or tree.n_waiting else Stop(why)


class BasePolicy:
    """Parameters (class attribute `PARAMS`: name -> default), RNG, state save/restore."""

    name = "base"
    PARAMS: dict[str, Any] = {}

    def __init__(self, seed: int, tasks: list[str], **params: Any):
        unknown = sorted(set(params) - set(self.PARAMS))
        if unknown:
            known = ", ".join(sorted(self.PARAMS)) or "none"
            raise PolicyError(
                f"unknown parameter(s) for policy {self.name}: {', '.join(unknown)} "
                f"(known: {known})"
            )
        self.params = {**self.PARAMS, **params}
        for key, value in self.params.items():
            self.params[key] = self._coerce(key, value)
        self.seed = int(seed)
        self.tasks = list(tasks)
        self.rng = np.random.default_rng(self.seed)
        self.require(bool(self.tasks), "needs at least one task")
        self.check_params()

    def _coerce(self, key: str, value: Any) -> Any:
        """Bring a value to the type of its default (TOML and CLI give strings or ints)."""
        default = self.PARAMS[key]
        try:
            if isinstance(default, bool):
                if isinstance(value, str):
                    if value.lower() not in ("true", "false", "1", "0"):
                        raise ValueError(value)
                    return value.lower() in ("true", "1")
                return bool(value)
            if isinstance(default, int):
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError(value)
                return int(value)
            if isinstance(default, float):
                return float(value)
            if isinstance(default, tuple):
                if isinstance(value, str):
                    value = [v for v in value.replace(",", " ").split() if v]
                return tuple(type(default[0])(v) for v in value) if default else tuple(value)
        except (TypeError, ValueError):
            raise PolicyError(
                f"policy {self.name}: parameter {key} must be like {default!r}, got {value!r}"
            ) from None
        return value

    def check_params(self) -> None:
        """Reject values out of range (subclasses)."""

    def require(self, ok: bool, message: str) -> None:
        if not ok:
            raise PolicyError(f"policy {self.name}: {message}")

    # -- the protocol ------------------------------------------------------------------------
    def next_action(self, tree: TreeState):
        """The next action. The tree first takes in the archive's quarantine decisions, so a
        node quarantined (or approved by a person, from another process) since the last
        decision is already out (or back in)."""
        tree.refresh()
        return self.decide(tree)

    def decide(self, tree: TreeState):
        raise NotImplementedError

    def tell(self, action: Expand | Evaluate, result: ActionResult) -> None:
        """Most policies read everything they need from the tree."""

    def final_agent(self, tree: TreeState) -> int:
        """The valid evaluated node with the best posterior mean (the root when none)."""
        ok = (tree.status == VALID) & (tree.own_n > 0)
        if not ok.any():
            return 0
        score = np.where(ok, posterior_mean(tree.own_s, tree.own_n), -1.0)
        return int(score.argmax())

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, d: dict[str, Any]) -> None:
        """Restore what `extra_state` saved."""

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable: the RNG bit generator state and any plans under way."""
        state = {
            "policy": self.name,
            "rng": self.rng.bit_generator.state,
            "extra": self.extra_state(),
        }
        return json.loads(json.dumps(state))  # fail here, not at save time, if not JSON

    def load_state_dict(self, d: dict[str, Any]) -> None:
        if d.get("policy") != self.name:
            raise PolicyError(f"saved state is for policy {d.get('policy')}, not {self.name}")
        self.rng.bit_generator.state = d["rng"]
        self.load_extra_state(d.get("extra", {}))
