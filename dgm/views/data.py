"""A read-only snapshot of a run's archive, and the pure numbers every view derives from it.

The views read nodes and evaluations once (two queries) and compute scores, depths, the path
to the final agent and the progress curve in memory, so they stay fast on archives of 10,000
nodes. The final agent is the run's own (`dgm.policies.final`), the node its summary names.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dgm.errors import DgmError
from dgm.policies import Policy, TreeState, final_agent, make_policy
from dgm.run.config import RunConfig
from dgm.run.rundir import RunDir

if TYPE_CHECKING:
    import networkx as nx

# The progress curve counts a node only once it has this many results (or as many as any
# node has), so that one lucky 1/1 does not make the curve jump to 1.0.
MIN_TRIALS = 3


class ViewError(DgmError):
    """An unknown run, node or task asked of a view, or a run that cannot be shown."""

    exit_code = 2


@dataclass
class NodeRow:
    """One node with what the views need: lineage, status and its own results."""

    id: int
    parent: int | None
    status: str
    entry: str | None = None
    created: Any = None
    depth: int = 0
    successes: int = 0
    trials: int = 0
    eval_cost: float = 0.0
    children: list[int] = field(default_factory=list)
    clade: tuple[int, int] | None = None  # (successes, trials) of the node and descendants
    tampered: int = 0  # own evaluations graded `tampered`
    quarantine: str | None = None  # quarantined / waiting / approved / rejected

    @property
    def score(self) -> float | None:
        return self.successes / self.trials if self.trials else None

    @property
    def tamper_rate(self) -> float | None:
        """Tampered / evaluations (the STOP paper's bypass rate), None before any."""
        return self.tampered / self.trials if self.trials else None


@dataclass
class Snapshot:
    """Nodes (by id, parents before children) and evaluations (in the order recorded)."""

    nodes: dict[int, NodeRow]
    evaluations: list[Any]
    # (time, dollars) of every FM call, when the ledger is known: the x axis "dollars spent"
    # then counts diagnosis and self-modification too, not only the evaluations.
    spend: list[tuple[float, float]] | None = None
    policy: Policy | None = None  # the run's policy (its final agent rule); None: the default
    finished: dict[str, Any] | None = None  # what the run recorded when it finished

    @classmethod
    def from_records(
        cls,
        nodes: Iterable[Any],
        evaluations: Iterable[Any],
        fm_calls: Iterable[Any] | None = None,
    ) -> Snapshot:
        """Build from archive `Node`s, `Evaluation`s and `FMCall`s (or anything with the same
        fields)."""
        rows: dict[int, NodeRow] = {}
        for n in sorted(nodes, key=lambda n: n.id):
            rows[n.id] = NodeRow(
                n.id, n.parent, n.status, getattr(n, "entry", None), getattr(n, "created", None),
                quarantine=getattr(n, "quarantine", None),
            )  # fmt: skip
        for row in rows.values():  # ids grow with creation, so a parent is done before a child
            if row.parent is not None and row.parent in rows:
                parent = rows[row.parent]
                parent.children.append(row.id)
                row.depth = parent.depth + 1
        evals = list(evaluations)
        for e in evals:
            row = rows.get(e.node)
            if row is None:
                continue
            row.trials += 1
            row.successes += e.outcome == "resolved"
            row.tampered += e.outcome == "tampered"
            row.eval_cost += float(e.cost or 0.0)
        spend = None
        if fm_calls is not None:
            spend = sorted((float(c.created), float(c.cost or 0.0)) for c in fm_calls)
        return cls(rows, evals, spend)

    @classmethod
    def results_only(cls, archive: Any) -> Snapshot:
        """Nodes with their own and clade results from the archive's stats table, without
        reading the evaluations (what the viewer's tree needs, a third of the time)."""
        snap = cls.from_records(archive.nodes(), [])
        snap.policy, snap.finished = run_policy(archive.run_dir), archive.get_state("finished")
        for node_id, (own, clade) in archive.all_stats().items():
            row = snap.nodes.get(node_id)
            if row is not None:
                row.successes, row.trials = own.successes, own.trials
                row.tampered = own.tampered
                row.clade = (clade.successes, clade.trials)
        return snap

    @classmethod
    def from_archive(cls, archive: Any, with_spend: bool = True) -> Snapshot:
        calls = archive.fm_calls() if with_spend else None
        snap = cls.from_records(archive.nodes(), archive.evaluations(), calls)
        snap.policy, snap.finished = run_policy(archive.run_dir), archive.get_state("finished")
        return snap

    # -- lookups ---------------------------------------------------------------------------
    def node(self, node_id: int) -> NodeRow:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise ViewError(f"no node {node_id} in this run") from None

    @property
    def root(self) -> int:
        return next(iter(self.nodes))

    def min_trials(self) -> int:
        most = max((r.trials for r in self.nodes.values()), default=0)
        return max(1, min(MIN_TRIALS, most))

    def final_agent(self) -> int | None:
        """The run's final agent (see `dgm.policies.final`); None for an empty snapshot."""
        if not self.nodes:
            return None
        rows = self.nodes.values()
        tree = TreeState.from_counts(
            PLACEHOLDER_TASKS,
            [r.parent for r in rows],
            [r.status for r in rows],
            {r.id: r.quarantine for r in rows if r.quarantine},
            [r.successes for r in rows],
            [r.trials for r in rows],
        )
        return final_agent(self.policy or default_policy(), tree, self.finished)

    def path_to(self, node_id: int) -> list[int]:
        """Ids from the root down to `node_id`."""
        path = [node_id]
        while (parent := self.node(path[-1]).parent) is not None:
            path.append(parent)
        return path[::-1]

    @cached_property
    def lineage(self) -> nx.DiGraph:
        """The lineage as a networkx graph (edges parent -> child, in id order), built on
        first use."""
        import networkx as nx  # here: every dgm command imports the views, few walk a graph

        graph = nx.DiGraph()
        graph.add_nodes_from(self.nodes)
        graph.add_edges_from((r.parent, i) for i, r in self.nodes.items() if r.parent in self.nodes)
        return graph

    def joining_path(self, a: int, b: int) -> tuple[list[int], int]:
        """The lineage path from `a` up to the common ancestor and down to `b`, and that
        ancestor."""
        import networkx as nx

        self.node(a), self.node(b)  # unknown ids: a ViewError
        ancestor = nx.lowest_common_ancestor(self.lineage, a, b)
        up = nx.shortest_path(self.lineage, ancestor, a)
        down = nx.shortest_path(self.lineage, ancestor, b)
        return up[::-1] + down[1:], ancestor

    def tamper_totals(self) -> tuple[int, int]:
        """(tampered, evaluations) over the whole run."""
        return (sum(r.tampered for r in self.nodes.values()),
                sum(r.trials for r in self.nodes.values()))  # fmt: skip

    def quarantined(self, *states: str) -> list[int]:
        """Nodes in one of the quarantine `states` (any state when none is given)."""
        return [i for i, r in self.nodes.items()
                if r.quarantine and (not states or r.quarantine in states)]  # fmt: skip

    def total_cost(self) -> float:
        return sum(r.eval_cost for r in self.nodes.values())

    def outcomes_by_task(self, node_id: int) -> dict[str, list[str]]:
        """Each task the node was evaluated on, with its outcomes in order."""
        found: dict[str, list[str]] = {}
        for e in self.evaluations:
            if e.node == node_id:
                found.setdefault(e.task, []).append(str(e.outcome))
        return found


# A policy needs a task list to be built; its final agent reads scores only, so the views
# need not load the benchmark to name it.
PLACEHOLDER_TASKS = ["-"]


def default_policy() -> Policy:
    """The policy a config that names none gets (for an archive without a readable config)."""
    config = RunConfig()
    return make_policy(config.policy, config.seed, PLACEHOLDER_TASKS, **config.policy_params)


def run_policy(run_dir: Path) -> Policy | None:
    """The policy of the run in `run_dir` as its config sets it; None when the config is
    missing or unreadable (the default policy's rule applies then)."""
    try:
        config = RunDir(Path(run_dir)).load_config()
        return make_policy(config.policy, config.seed, PLACEHOLDER_TASKS, **config.policy_params)
    except Exception:  # noqa: BLE001 - a damaged config must not break a view
        return None


@dataclass
class Curve:
    """Best and mean node score after each evaluation, against evaluations and dollars."""

    evals: list[int]
    dollars: list[float]
    best: list[float]
    mean: list[float]


def progress_curve(snap: Snapshot) -> Curve:
    """Replay the evaluations in order. A node counts once it has `min_trials` results; the
    best is kept in a lazy max-heap so the whole curve is O(E log E)."""
    k = snap.min_trials()
    succ: dict[int, int] = {}
    tried: dict[int, int] = {}
    heap: list[tuple[float, int, int]] = []  # (-score, node, trials when pushed)
    total, counted = 0.0, 0
    curve = Curve([], [], [], [])
    spent, next_call = 0.0, 0
    spend = snap.spend
    for i, e in enumerate(snap.evaluations, start=1):
        node = e.node
        if spend is None:
            spent += float(e.cost or 0.0)
        else:  # every call made up to the moment this evaluation was recorded
            while next_call < len(spend) and spend[next_call][0] <= e.created:
                spent += spend[next_call][1]
                next_call += 1
        old = succ.get(node, 0) / tried[node] if tried.get(node, 0) >= k else None
        succ[node] = succ.get(node, 0) + (e.outcome == "resolved")
        tried[node] = tried.get(node, 0) + 1
        if tried[node] >= k:
            new = succ[node] / tried[node]
            if old is None:
                counted += 1
                total += new
            else:
                total += new - old
            heapq.heappush(heap, (-new, node, tried[node]))
        while heap and heap[0][2] != tried[heap[0][1]]:  # a stale entry: the node moved on
            heapq.heappop(heap)
        if not counted:
            continue
        curve.evals.append(i)
        curve.dollars.append(spent)
        curve.best.append(-heap[0][0])
        curve.mean.append(total / counted)
    return curve


def scores_by_depth(snap: Snapshot) -> dict[int, list[float]]:
    """The scores of the evaluated nodes, grouped by their depth in the tree."""
    found: dict[int, list[float]] = {}
    for r in snap.nodes.values():
        if r.score is not None:
            found.setdefault(r.depth, []).append(r.score)
    return dict(sorted(found.items()))
