"""TreeState: the statistics of a run's tree that policies decide from.

The loop (or the simulator) owns it and updates it; policies only read it. Per-node numbers
live in numpy arrays grown by doubling, so a policy can score every candidate node in one
vectorised step. A result updates the node and each ancestor: O(depth), never a tree walk.

Quarantine: a node held in quarantine (a tampered evaluation, see `archive.quarantine`) has
the status code QUARANTINED, so every policy, which picks parents, evaluations and final
agents among VALID nodes only, leaves it alone until it is approved. Invalid and held nodes
are "bad": `clade_bad` counts them in each clade (the node and its descendants), which hgm
counts as failures (`invalid_child_failures`). A tree built with `from_archive` follows the
archive's decisions: `refresh()` (called by every policy before it decides) applies the
quarantines and the approvals or rejections recorded since, by any process.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from archive.models import HELD  # the quarantine states that keep a node out

VALID, INVALID, PENDING, QUARANTINED = 0, 1, 2, 3
STATUS_CODES = {"valid": VALID, "invalid": INVALID, "pending": PENDING}
_INT_ARRAYS = (
    "_own_s", "_own_n", "_clade_s", "_clade_n", "_n_children", "_blocked", "_clade_bad",
)  # fmt: skip


class TreeState:
    """Nodes (0 is the seed), their own and clade results, and the work in flight.

    `status` holds codes: VALID (0), INVALID (1), PENDING (2), QUARANTINED (3: valid but
    held). The array properties are views of the first `n_nodes` entries: read them, never
    write them.
    """

    def __init__(self, tasks: list[str], capacity: int = 64):
        self.tasks = list(tasks)
        self.task_index = {t: i for i, t in enumerate(self.tasks)}
        self._n = 0
        self._cap = max(1, capacity)
        self._parent = np.full(self._cap, -1, dtype=np.int64)
        self._status = np.zeros(self._cap, dtype=np.int8)
        self._base = np.zeros(self._cap, dtype=np.int8)  # the status without quarantine
        for name in _INT_ARRAYS:
            setattr(self, name, np.zeros(self._cap, dtype=np.int64))
        self._parent_list: list[int] = []  # plain list: fast ancestor walks
        self._done: list[set[str]] = []  # tasks with at least one result, per node
        self._eval_flight: list[dict[str, int]] = []
        self._expand_flight: dict[int, int] = {}
        self._n_expand_flight = 0
        self._n_evals = 0
        self._n_eval_flight = 0
        self.budget_fraction = 0.0
        self._quarantine: dict[int, str] = {}  # node -> quarantine state (absent: none)
        self._early: dict[int, str] = {}  # states read for nodes not added yet
        self._source = None  # an archive to follow (see from_archive)
        self._seen = 0  # the last archive event applied
        self.add_node(-1, "valid")

    @classmethod
    def from_archive(cls, archive, tasks: list[str]) -> TreeState:
        """The tree of a run's archive (nodes, results, quarantines), following its
        decisions from now on (`refresh`)."""
        tree = cls(tasks)
        tree._seen = archive.last_event_id()  # the mark first: later decisions are refreshed
        for node in sorted(archive.nodes(), key=lambda n: n.id):
            if node.parent is None:
                tree.set_status(0, node.status)
            else:
                assert tree.add_node(node.parent, status=node.status) == node.id
            if node.quarantine:
                tree.set_quarantine(node.id, node.quarantine)
        for e in archive.evaluations():
            tree.add_result(e.node, e.task, e.outcome == "resolved")
        tree._source = archive
        tree.refresh()  # decisions made while the tree was read
        return tree

    @classmethod
    def from_counts(
        cls,
        tasks: list[str],
        parents: list[int | None],
        statuses: list[str],
        quarantine: dict[int, str],
        successes: list[int],
        trials: list[int],
    ) -> TreeState:
        """A tree from per-node columns (node i's parent, status, own successes and trials;
        ids 0..n-1, parents first) and the quarantine state of the nodes that have one. What
        the views have at hand, filled in bulk: a view of 10,000 nodes must not replay every
        result. Which tasks each node tried is not known, so it serves for reading (scores,
        the final agent), not for deciding. Kept equal to `from_archive`'s arrays by a test."""
        n = len(parents)
        tree = cls(tasks, capacity=max(1, n))
        parent = [-1 if p is None else p for p in parents]
        base = [STATUS_CODES[status] for status in statuses]
        tree._quarantine = {i: q for i, q in quarantine.items() if q}
        held = [tree._quarantine.get(i) in HELD for i in range(n)]
        bad = [int(b == INVALID or h) for b, h in zip(base, held, strict=True)]
        clade_s, clade_n, clade_bad = list(successes), list(trials), bad[:]
        for i in range(n - 1, 0, -1):  # children have higher ids: one pass up sums the clades
            p = parent[i]
            clade_s[p] += clade_s[i]
            clade_n[p] += clade_n[i]
            clade_bad[p] += clade_bad[i]
        tree._n, tree._parent_list = n, parent
        # Shared immutable empties: cheap (20,000 new containers would wake the garbage
        # collector), and a result or work recorded on this tree fails loudly.
        tree._done = [frozenset()] * n  # type: ignore[list-item]
        tree._eval_flight = [MappingProxyType({})] * n  # type: ignore[list-item]
        tree._parent[:n], tree._base[:n] = parent, base
        held_valid = np.array(held, dtype=bool) & (tree._base[:n] == VALID)
        tree._status[:n] = np.where(held_valid, QUARANTINED, tree._base[:n])
        tree._n_children[:n] = np.bincount(np.array(parent[1:], dtype=np.int64), minlength=n)
        tree._own_s[:n], tree._own_n[:n] = successes, trials
        tree._clade_s[:n], tree._clade_n[:n], tree._clade_bad[:n] = clade_s, clade_n, clade_bad
        tree._n_evals = sum(trials)
        return tree

    def refresh(self) -> None:
        """Apply the archive's quarantine decisions recorded since the last refresh (one
        indexed read; nothing without a source)."""
        if self._source is None:
            return
        changes, self._seen = self._source.quarantine_changes(since=self._seen)
        for node, state in changes:
            self.set_quarantine(node, state)

    # -- growth ----------------------------------------------------------------------------
    def _grow(self) -> None:
        self._cap *= 2
        for name in ("_parent", "_status", "_base", *_INT_ARRAYS):
            old = getattr(self, name)
            new = np.full(self._cap, -1, dtype=old.dtype) if name == "_parent" else None
            if new is None:
                new = np.zeros(self._cap, dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def add_node(self, parent: int, status: str = "valid") -> int:
        """Add a child of `parent` (the root is made by the constructor) and return its id."""
        if self._n and not 0 <= parent < self._n:
            raise ValueError(f"unknown parent node {parent}")
        if self._n == self._cap:
            self._grow()
        node = self._n
        self._n += 1
        self._parent[node] = parent
        self._status[node] = self._base[node] = VALID
        self._parent_list.append(parent)
        self._done.append(set())
        self._eval_flight.append({})
        if parent >= 0:
            self._n_children[parent] += 1
        self.set_status(node, status)
        if node in self._early:
            self.set_quarantine(node, self._early.pop(node))
        return node

    def set_status(self, node: int, status: str) -> None:
        self._check(node)
        self._update(node, STATUS_CODES[status], self._quarantine.get(node))

    def set_quarantine(self, node: int, state: str | None) -> None:
        """A quarantine state (None, quarantined, waiting, approved, rejected) of `node`."""
        if not 0 <= node < self._n:
            self._early[node] = state  # a decision read before its node: applied on add
            return
        self._update(node, int(self._base[node]), state)

    def _update(self, node: int, base: int, state: str | None) -> None:
        """Set the node's base status and quarantine; move clade_bad along its ancestors."""
        was_bad = self._is_bad(node)
        self._base[node] = base
        if state is None:
            self._quarantine.pop(node, None)
        else:
            self._quarantine[node] = state
        held = state in HELD
        self._status[node] = QUARANTINED if held and base == VALID else base
        delta = int(self._is_bad(node)) - int(was_bad)
        if delta:
            self._clade_bad[self.ancestors(node)] += delta

    def _is_bad(self, node: int) -> bool:
        return self._base[node] == INVALID or self._quarantine.get(node) in HELD

    @property
    def n_waiting(self) -> int:
        """Nodes waiting for a person's decision (manual quarantine)."""
        return sum(1 for state in self._quarantine.values() if state == "waiting")

    def quarantine(self, node: int) -> str | None:
        """The node's quarantine state, or None."""
        self._check(node)
        return self._quarantine.get(node)

    def _check(self, node: int) -> None:
        if not 0 <= node < self._n:
            raise ValueError(f"unknown node {node}")

    def ancestors(self, node: int) -> list[int]:
        """The node and its ancestors up to the root."""
        path = []
        while node >= 0:
            path.append(node)
            node = self._parent_list[node]
        return path

    # -- results and work in flight --------------------------------------------------------
    def _is_blocked(self, node: int, task: str) -> bool:
        return task in self._done[node] or self._eval_flight[node].get(task, 0) > 0

    def add_result(self, node: int, task: str, success: bool) -> None:
        """Record one result: own stats of `node`, clade stats of it and every ancestor."""
        self._check(node)
        before = self._is_blocked(node, task)
        self._done[node].add(task)
        self._blocked[node] += int(not before)
        s = int(bool(success))
        self._own_s[node] += s
        self._own_n[node] += 1
        path = self.ancestors(node)  # distinct ids, so fancy-index += is exact
        self._clade_n[path] += 1
        if s:
            self._clade_s[path] += 1
        self._n_evals += 1

    def mark_in_flight(self, expand: int | None = None, evaluate: int | None = None,
                       task: str | None = None) -> None:  # fmt: skip
        """Note an expansion of `expand`, or an evaluation of `evaluate` on `task`, started."""
        self._flight(expand, evaluate, task, +1)

    def clear_in_flight(self, expand: int | None = None, evaluate: int | None = None,
                        task: str | None = None) -> None:  # fmt: skip
        """Note that work marked with `mark_in_flight` has ended."""
        self._flight(expand, evaluate, task, -1)

    def _flight(self, expand: int | None, evaluate: int | None, task: str | None, sign: int):
        if expand is not None:
            self._check(expand)
            count = self._expand_flight.get(expand, 0) + sign
            if count < 0:
                raise ValueError(f"no expansion of node {expand} in flight")
            if count:
                self._expand_flight[expand] = count
            else:
                self._expand_flight.pop(expand, None)
            self._n_expand_flight += sign
            return
        if evaluate is None or task is None:
            raise ValueError("mark/clear in flight needs expand=NODE or evaluate=NODE, task=T")
        self._check(evaluate)
        flight = self._eval_flight[evaluate]
        before = self._is_blocked(evaluate, task)
        count = flight.get(task, 0) + sign
        if count < 0:
            raise ValueError(f"no evaluation of node {evaluate} on {task} in flight")
        if count:
            flight[task] = count
        else:
            flight.pop(task, None)
        self._n_eval_flight += sign
        self._blocked[evaluate] += int(self._is_blocked(evaluate, task)) - int(before)

    def set_budget_fraction(self, f: float) -> None:
        """How much of the budget is spent, 0..1 (the hgm cool-down reads it)."""
        self.budget_fraction = float(min(1.0, max(0.0, f)))

    # -- reading ---------------------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        return self._n

    @property
    def n_evals(self) -> int:
        """Results recorded (every result counts, repeats included)."""
        return self._n_evals

    @property
    def n_pending_expansions(self) -> int:
        return self._n_expand_flight

    @property
    def n_evals_in_flight(self) -> int:
        return self._n_eval_flight

    @property
    def n_in_flight(self) -> int:
        """Expansions and evaluations started and not yet ended."""
        return self._n_expand_flight + self._n_eval_flight

    own_s = property(lambda self: self._own_s[: self._n], doc="Own successes per node.")
    own_n = property(lambda self: self._own_n[: self._n], doc="Own trials per node.")
    clade_s = property(lambda self: self._clade_s[: self._n], doc="Clade successes.")
    clade_n = property(lambda self: self._clade_n[: self._n], doc="Clade trials.")
    parent = property(lambda self: self._parent[: self._n], doc="Parent id (-1: root).")
    status = property(lambda self: self._status[: self._n], doc="Status codes.")
    n_children = property(lambda self: self._n_children[: self._n], doc="Children per node.")
    clade_bad = property(
        lambda self: self._clade_bad[: self._n], doc="Invalid or held nodes in each clade."
    )
    n_blocked = property(
        lambda self: self._blocked[: self._n], doc="Tasks evaluated or in flight, per node."
    )

    def has_untried(self) -> np.ndarray:
        """Boolean mask: nodes with at least one task neither evaluated nor in flight."""
        return self.n_blocked < len(self.tasks)

    def untried(self, node: int) -> list[str]:
        """Tasks of `node` not evaluated yet and not in flight, in task order."""
        self._check(node)
        done, flight = self._done[node], self._eval_flight[node]
        return [t for t in self.tasks if t not in done and not flight.get(t)]

    def random_untried(self, node: int, rng: np.random.Generator) -> str | None:
        """A task drawn uniformly from `untried(node)` (None when there is none)."""
        free = len(self.tasks) - int(self._blocked[node])
        if free <= 0:
            return None
        if 2 * free >= len(self.tasks):  # mostly free: rejection sampling skips the scan
            done, flight = self._done[node], self._eval_flight[node]
            while True:
                task = self.tasks[int(rng.random() * len(self.tasks))]
                if task not in done and not flight.get(task):
                    return task
        untried = self.untried(node)
        return untried[int(rng.random() * len(untried))]

    def tried(self, node: int) -> set[str]:
        """Tasks of `node` with at least one result."""
        return set(self._done[node])

    def children(self, node: int) -> list[int]:
        self._check(node)
        return [int(i) for i in np.flatnonzero(self.parent == node)]

    def in_flight_expansions(self, node: int) -> int:
        return self._expand_flight.get(node, 0)
