"""Synthetic self-improvement landscapes for the policy simulator.

Every node has a hidden true solve rate `q` and a hidden metaproductivity `m` (how good its
children tend to be). A child's numbers come from its parent's through the family's process.
The i-th child of a given node is the same in every run with the same seed, whichever policy
asks for it: its randomness is seeded by (seed, a hash of the path from the root), so every
policy meets the same landscape. An evaluation of node X on task t succeeds when
u[X, t] < q[X], with
u drawn once per node: a Bernoulli(q) draw, the same for every policy (common random numbers).
"""

from __future__ import annotations

import numpy as np

from dgm.errors import DgmError

FAMILIES = {
    "smooth": "small random steps, slightly harmful on average; m plays no part",
    "rugged": "most changes hurt a little, a few (10 %) help a lot",
    "mismatch": "shortcut children score higher but are poor parents; groundwork children "
    "score lower but raise metaproductivity (the case CMP is for)",
    "flat": "no real progress: children differ from parents by noise only",
    "brittle": "slow real progress; some children turn brittle (a shortcut that scores a bit "
    "higher at once) and most of a brittle node's children are invalid (the case counting "
    "invalid children in the clade is for)",
}
ROOT_Q, ROOT_M = 0.35, 0.5
P_INVALID = 0.15
# brittle: the invalid-child rate of a brittle parent, the chance a sturdy parent's child
# turns brittle (and its score bonus), the chance a brittle parent's child stays brittle.
BRITTLE_P_INVALID, TURN_BRITTLE, BRITTLE_BONUS, STAY_BRITTLE = 0.85, 0.25, 0.03, 0.85


class SimulateError(DgmError):
    """Bad input to the simulator (unknown landscape or policy, a bad number)."""

    exit_code = 2


class Landscape:
    """The hidden truth of one seeded landscape, grown as policies expand nodes."""

    def __init__(self, family: str, seed: int, n_tasks: int):
        if family not in FAMILIES:
            raise SimulateError(f"unknown landscape '{family}' (known: {', '.join(FAMILIES)})")
        self.family, self.seed, self.n_tasks = family, int(seed), int(n_tasks)
        self.q: list[float] = [ROOT_Q]
        self.m: list[float] = [ROOT_M]
        self.valid: list[bool] = [True]
        self.key: list[int] = [0]  # a hash of the path from the root
        self.made: list[int] = [0]  # children made so far, per node
        self.brittle: list[bool] = [False]  # most children invalid (family `brittle` only)
        self.u: list[np.ndarray] = [self._rng(0).random(self.n_tasks)]

    def _rng(self, key: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, key & 0xFFFFFFFF, key >> 32])

    def expand(self, parent: int) -> tuple[int, bool]:
        """Make the next child of `parent`; returns (child id, valid)."""
        key = _child_key(self.key[parent], self.made[parent])
        self.made[parent] += 1
        rng = self._rng(key)
        valid = bool(rng.random() >= (BRITTLE_P_INVALID if self.brittle[parent] else P_INVALID))
        q, m = self._child(rng, self.q[parent], self.m[parent])
        brittle = False
        if self.family == "brittle":  # drawn after the others: other families are unchanged
            brittle = bool(rng.random() < (STAY_BRITTLE if self.brittle[parent] else TURN_BRITTLE))
            if brittle and not self.brittle[parent]:
                q += BRITTLE_BONUS
        self.brittle.append(brittle)
        self.q.append(float(np.clip(q, 0.01, 0.99)) if valid else 0.0)
        self.m.append(float(np.clip(m, 0.0, 1.0)))
        self.valid.append(valid)
        self.key.append(key)
        self.made.append(0)
        self.u.append(rng.random(self.n_tasks))
        return len(self.q) - 1, valid

    def _child(self, rng: np.random.Generator, q: float, m: float) -> tuple[float, float]:
        if self.family == "smooth":
            return q + rng.normal(-0.01, 0.05), m
        if self.family == "rugged":
            if rng.random() < 0.1:
                return q + rng.uniform(0.05, 0.2), m
            return q + rng.normal(-0.04, 0.03), m
        if self.family == "brittle":
            return q + rng.normal(0.01, 0.04), m
        if self.family == "flat":
            return q + rng.normal(0.0, 0.03) - 0.3 * (q - ROOT_Q), m
        # mismatch: the parent's m sets the drift of every child it makes.
        drift = 0.12 * (m - 0.5) + rng.normal(0.0, 0.03)
        if rng.random() < 0.5:
            return q + 0.05 + drift, m * 0.4  # shortcut: scores now, poor parent
        return q - 0.03 + drift, m + 0.25  # groundwork: scores less, better parent

    def evaluate(self, node: int, task: int) -> bool:
        """One Bernoulli(q) draw (fixed per node and task)."""
        return bool(self.u[node][task] < self.q[node])

    def best_valid(self) -> float:
        """The highest true rate among the valid nodes made so far."""
        return max(q for q, ok in zip(self.q, self.valid, strict=True) if ok)


def _child_key(parent_key: int, index: int) -> int:
    """A 64-bit key for the index-th child of a node (splitmix64 of the pair): fixed-size
    seeding material whatever the depth, and a collision only by 2**-64 chance."""
    x = (parent_key * 0x9E3779B97F4A7C15 + index + 1) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


_MASK64 = (1 << 64) - 1
