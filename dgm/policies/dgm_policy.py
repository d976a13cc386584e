"""The Darwin Gödel Machine policy: synchronous generations over an archive.

- Each generation draws `k` parents with replacement from the archive's valid evaluated
  nodes. `selection = "score_child_prop"` (default): p ∝ sigmoid(10 (score - 0.5)) /
  (1 + n_children); `score_prop`: p ∝ sigmoid(...); `best`: the k highest scores (the
  published code sorts ascending and so picks the worst; ours picks the best); `random`.
  A score is the posterior mean of Beta(1 + S_own, 1 + F_own), so a 10-task score and a
  60-task score are compared as posteriors, never raw. n_children counts every expansion
  of the node (invalid children too), so a node that keeps failing loses weight.
- Staged evaluation: `stages` are task counts, taken in order from the task list (every node
  gets the same tasks: one denominator); a node goes on to stage i + 1 only when its success
  fraction over the stages so far is above `thresholds[i]`.
- When a generation's children are all evaluated, `keep_all` adds every valid child to the
  archive; `keep_better` only those scoring at least the seed's score - `noise_leeway` (as the
  published code compares against the seed).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dgm.policies.actions import ActionResult, Evaluate, Expand, Wait
from dgm.policies.base import BasePolicy, posterior_mean, wait_or_stop
from dgm.policies.tree import INVALID, VALID, TreeState

SELECTIONS = ("score_child_prop", "score_prop", "best", "random")
ARCHIVE_RULES = ("keep_all", "keep_better")


def sigmoid_weight(score: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-10.0 * (score - 0.5)))


class DGMPolicy(BasePolicy):
    """Darwin Gödel Machine: generations of k expansions, staged evaluation, an archive."""

    name = "dgm"
    PARAMS = {
        "k": 2,
        "selection": "score_child_prop",
        "stages": (10, 50),
        "thresholds": (0.4,),
        "archive": "keep_all",
        "noise_leeway": 0.1,
    }

    def __init__(self, seed: int, tasks: list[str], **params: Any):
        super().__init__(seed, tasks, **params)
        p = self.params
        self.stage_tasks: list[tuple[str, ...]] = []
        start = 0
        for size in p["stages"]:
            chunk = tuple(self.tasks[start : start + size])
            if chunk:
                self.stage_tasks.append(chunk)
            start += size
        self.queue: list[Expand | Evaluate] = []
        self.outstanding = 0
        self.generation = 0
        self.children: list[int] = []  # valid children of the current generation
        self.archive: list[int] = [0]
        self.stage_of: dict[int, int] = {}
        self.stage_score: dict[int, list[int]] = {}  # node -> [successes, trials] so far

    def check_params(self) -> None:
        p = self.params
        self.require(p["k"] >= 1, f"k must be >= 1, got {p['k']}")
        self.require(p["selection"] in SELECTIONS, f"selection must be one of {SELECTIONS}")
        self.require(p["archive"] in ARCHIVE_RULES, f"archive must be one of {ARCHIVE_RULES}")
        self.require(all(s >= 1 for s in p["stages"]) and p["stages"], "stages must be >= 1")
        self.require(
            len(p["thresholds"]) == len(p["stages"]) - 1,
            "thresholds needs one value fewer than stages",
        )
        self.require(all(0.0 <= t <= 1.0 for t in p["thresholds"]), "thresholds must be in [0, 1]")
        self.require(p["noise_leeway"] >= 0.0, "noise_leeway must be >= 0")

    # -- parent selection --------------------------------------------------------------------
    def parent_probabilities(self, tree: TreeState) -> tuple[np.ndarray, np.ndarray]:
        """Candidate ids and their selection probabilities (score_child_prop/score_prop)."""
        idx = np.array(sorted(set(self.archive)), dtype=np.int64)
        idx = idx[(tree.status[idx] == VALID) & (tree.own_n[idx] > 0)]
        if idx.size == 0:
            return idx, np.zeros(0)
        weight = sigmoid_weight(posterior_mean(tree.own_s[idx], tree.own_n[idx]))
        if self.params["selection"] == "score_child_prop":
            weight = weight / (1.0 + tree.n_children[idx])
        elif self.params["selection"] == "random":
            weight = np.ones(idx.size)
        return idx, weight / weight.sum()

    def choose_parents(self, tree: TreeState) -> list[int]:
        idx, p = self.parent_probabilities(tree)
        k = self.params["k"]
        if idx.size == 0:
            return []
        if self.params["selection"] == "best":
            score = posterior_mean(tree.own_s[idx], tree.own_n[idx])
            order = idx[np.argsort(-score, kind="stable")]  # descending: best first
            return [int(order[i % order.size]) for i in range(k)]
        return [int(i) for i in self.rng.choice(idx, size=k, replace=True, p=p)]

    # -- the protocol ----------------------------------------------------------------------
    def _evaluate_stage(self, node: int, stage: int) -> None:
        self.stage_of[node] = stage
        self.queue.append(Evaluate(node, self.stage_tasks[stage]))

    def decide(self, tree: TreeState):
        # Planned work on a node quarantined since it was planned (a tampered result of an
        # earlier stage) is dropped: no further stage for it, no child of it.
        self.queue = [a for a in self.queue if tree.status[_target(a)] == VALID]
        if not self.queue and not self.outstanding:
            self._close_generation(tree)
            if 0 not in self.stage_of:  # the seed is evaluated first, staged like any node
                if tree.status[0] != VALID:
                    return wait_or_stop(tree, "the seed agent is not valid")
                self._evaluate_stage(0, 0)
            else:
                parents = self.choose_parents(tree)
                if not parents:
                    return wait_or_stop(tree, "no valid evaluated node in the archive")
                self.generation += 1
                self.queue.extend(Expand(p) for p in parents)
        if self.queue:
            self.outstanding += 1
            return self.queue.pop(0)
        return Wait()

    def _close_generation(self, tree: TreeState) -> None:
        if self.params["archive"] == "keep_all":
            keep = self.children
        else:
            seed_score = posterior_mean(tree.own_s[0], tree.own_n[0])
            floor = seed_score - self.params["noise_leeway"]
            keep = [c for c in self.children
                    if posterior_mean(tree.own_s[c], tree.own_n[c]) >= floor]  # fmt: skip
        # Quarantined children join too: selection skips them while they are held, and an
        # approved one becomes a candidate again.
        self.archive.extend(c for c in keep if tree.status[c] != INVALID)
        self.children = []

    def tell(self, action: Expand | Evaluate, result: ActionResult) -> None:
        self.outstanding = max(0, self.outstanding - 1)
        if isinstance(action, Expand):
            if result.child is not None and result.child_valid:
                self.children.append(result.child)
                self._evaluate_stage(result.child, 0)
            return
        node = action.node
        score = self.stage_score.setdefault(node, [0, 0])
        score[0] += sum(bool(v) for v in result.successes.values())
        score[1] += len(result.successes)
        stage = self.stage_of.get(node, 0)
        more = stage + 1 < len(self.stage_tasks) and score[1] > 0
        if more and score[0] / score[1] > self.params["thresholds"][stage]:
            self._evaluate_stage(node, stage + 1)

    # -- state -----------------------------------------------------------------------------
    def extra_state(self) -> dict[str, Any]:
        return {
            "queue": [_action_dict(a) for a in self.queue],
            "outstanding": self.outstanding,
            "generation": self.generation,
            "children": self.children,
            "archive": self.archive,
            "stage_of": {str(k): v for k, v in self.stage_of.items()},
            "stage_score": {str(k): v for k, v in self.stage_score.items()},
        }

    def load_extra_state(self, d: dict[str, Any]) -> None:
        self.queue = [_action_from(a) for a in d.get("queue", [])]
        self.outstanding = int(d.get("outstanding", 0))
        self.generation = int(d.get("generation", 0))
        self.children = [int(c) for c in d.get("children", [])]
        self.archive = [int(c) for c in d.get("archive", [0])]
        self.stage_of = {int(k): int(v) for k, v in d.get("stage_of", {}).items()}
        self.stage_score = {int(k): list(v) for k, v in d.get("stage_score", {}).items()}


def _target(a: Expand | Evaluate) -> int:
    return a.parent if isinstance(a, Expand) else a.node


def _action_dict(a: Expand | Evaluate) -> dict[str, Any]:
    if isinstance(a, Expand):
        return {"kind": "expand", "parent": a.parent}
    return {"kind": "evaluate", "node": a.node, "tasks": list(a.tasks)}


def _action_from(d: dict[str, Any]) -> Expand | Evaluate:
    if d["kind"] == "expand":
        return Expand(int(d["parent"]))
    return Evaluate(int(d["node"]), tuple(d["tasks"]))
