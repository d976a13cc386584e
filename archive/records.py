"""Evaluations with incremental clade statistics, FM calls, events and loop state.

A mixin of `Archive`: it expects `self.db` (a Database), `self.lineage(node_id)` and the
quarantine mixin's `_on_tampered`."""

from __future__ import annotations

import json
import time
from typing import Any

from archive.errors import ArchiveError, UnknownNode
from archive.models import OUTCOMES, SUCCESS, TAMPERED, Evaluation, Event, FMCall, Stats
from archive.quarantine import is_bad

EVAL_COLUMNS = (
    "id, node, benchmark, task, outcome, tokens, cost, seconds, log_path, created, reason"
)
OWN_COLUMNS = "own_successes, own_trials, own_tampered, own_bad"
CLADE_COLUMNS = "clade_successes, clade_trials, clade_tampered, clade_bad"
STATS_COLUMNS = f"{OWN_COLUMNS}, {CLADE_COLUMNS}"
FM_COLUMNS = (
    "id, session, node, task, role, model, prompt_tokens, completion_tokens, cost, cached, "
    "seconds, error, created, estimated"
)


class RecordsMixin:
    """Results and bookkeeping of an archive."""

    # -- evaluations and stats -----------------------------------------------------------
    def record_evaluation(
        self,
        node_id: int,
        benchmark: str,
        task: str,
        outcome: str,
        tokens: int = 0,
        cost: float = 0.0,
        seconds: float = 0.0,
        log_path: str | None = None,
        reason: str | None = None,
    ) -> int:
        """Store one result; the node's own and its lineage's clade stats move with it in the
        same transaction (O(depth)). A `tampered` result (its evidence in `reason`) also
        quarantines the node as the run's mode says. Returns the evaluation id."""
        outcome = str(outcome)
        if outcome not in OUTCOMES:
            raise ArchiveError(f"outcome must be one of {', '.join(OUTCOMES)}, not '{outcome}'")
        lineage = self.lineage(node_id)  # raises UnknownNode
        win, bad = int(outcome == SUCCESS), int(outcome == TAMPERED)
        marks = ",".join("?" * len(lineage))
        with self.db.write() as c:
            cur = c.execute(
                f"INSERT INTO evaluations ({EVAL_COLUMNS})"
                " VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (node_id, benchmark, task, outcome, int(tokens), float(cost), float(seconds),
                 None if log_path is None else str(log_path), time.time(), reason),
            )  # fmt: skip
            c.execute(
                "UPDATE stats SET own_successes = own_successes + ?, own_trials = own_trials + 1"
                " WHERE node = ?",
                (win, node_id),
            )
            c.execute(
                "UPDATE stats SET clade_successes = clade_successes + ?,"
                f" clade_trials = clade_trials + 1 WHERE node IN ({marks})",
                (win, *lineage),
            )
            if bad:  # rare: its own statements, so honest results cost what they always did
                c.execute("UPDATE stats SET own_tampered = own_tampered + 1 WHERE node = ?",
                          (node_id,))  # fmt: skip
                c.execute(
                    f"UPDATE stats SET clade_tampered = clade_tampered + 1 WHERE node IN ({marks})",
                    lineage,
                )
                self._on_tampered(c, lineage, cur.lastrowid, task, reason)
            return cur.lastrowid

    def evaluations(self, node_id: int | None = None) -> list[Evaluation]:
        """All evaluations in the order recorded, or those of one node."""
        if node_id is None:
            rows = self.db.query(f"SELECT {EVAL_COLUMNS} FROM evaluations ORDER BY id")
        else:
            rows = self.db.query(
                f"SELECT {EVAL_COLUMNS} FROM evaluations WHERE node = ? ORDER BY id", (node_id,)
            )
        return [Evaluation(*r) for r in rows]

    def evaluated_tasks(self, node_id: int) -> set[str]:
        """The task ids this node has at least one result for."""
        rows = self.db.query("SELECT DISTINCT task FROM evaluations WHERE node = ?", (node_id,))
        return {r[0] for r in rows}

    def own_stats(self, node_id: int) -> Stats:
        """The node's own successes and trials (one indexed read)."""
        return Stats(*self._stats_row(node_id, OWN_COLUMNS))

    def clade_stats(self, node_id: int) -> Stats:
        """Successes and trials of the node and all its descendants (one indexed read)."""
        return Stats(*self._stats_row(node_id, CLADE_COLUMNS))

    def all_stats(self) -> dict[int, tuple[Stats, Stats]]:
        """node -> (own, clade) for every node, in one query."""
        rows = self.db.query(f"SELECT node, {STATS_COLUMNS} FROM stats")
        return {r[0]: (Stats(*r[1:5]), Stats(*r[5:9])) for r in rows}

    def tamper_totals(self) -> tuple[int, int]:
        """(tampered, evaluations) over the whole run: the root's clade (one indexed read)."""
        row = self.db.one("SELECT clade_tampered, clade_trials FROM stats WHERE node = 0")
        return (row[0], row[1]) if row else (0, 0)

    def _stats_row(self, node_id: int, columns: str) -> tuple[int, ...]:
        row = self.db.one(f"SELECT {columns} FROM stats WHERE node = ?", (node_id,))
        if row is None:
            raise UnknownNode(node_id)
        return row

    def computed_stats(self) -> dict[int, tuple[int, ...]]:
        """Stats (in STATS_COLUMNS order) recomputed from the evaluations and the nodes'
        status and quarantine alone (a full pass)."""
        rows = self.db.query("SELECT id, parent, status, quarantine FROM nodes")
        parents = {r[0]: r[1] for r in rows}
        stats = {r[0]: [0, 0, 0, int(is_bad(r[2], r[3])), 0, 0, 0, 0] for r in rows}
        for node, wins, trials, tampered in self.db.query(
            "SELECT node, SUM(outcome = 'resolved'), COUNT(*), SUM(outcome = 'tampered')"
            " FROM evaluations GROUP BY node"
        ):
            stats[node][0:3] = [wins, trials, tampered]
        # A child's id is always above its parent's: descending order folds clades upward.
        for node in sorted(parents, reverse=True):
            s = stats[node]
            for i in range(4):
                s[4 + i] += s[i]
            if parents[node] is not None:
                up = stats[parents[node]]
                for i in range(4, 8):
                    up[i] += s[i]
        return {n: tuple(s) for n, s in stats.items()}

    def rebuild_stats(self) -> None:
        """Recompute every node's own and clade stats from the evaluations."""
        with self.db.write() as c:
            fresh = self.computed_stats()
            c.executemany(
                f"INSERT OR REPLACE INTO stats (node, {STATS_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(n, *s) for n, s in fresh.items()],
            )

    # -- FM ledger -----------------------------------------------------------------------
    def record_fm_call(
        self,
        session: str,
        node: int | None,
        task: str | None,
        role: str,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost: float,
        cached: bool,
        seconds: float,
        error: str | None = None,
        estimated: bool = False,
    ) -> int:
        """Store one FM call (the gateway's ledger); returns its id. `estimated`: the
        provider sent no usage, the tokens were counted by dgm."""
        with self.db.write() as c:
            cur = c.execute(
                f"INSERT INTO fm_calls ({FM_COLUMNS}) VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " ?, ?, ?)",
                (str(session), node, task, role, model, int(prompt_tokens),
                 int(completion_tokens), float(cost), int(bool(cached)), float(seconds), error,
                 time.time(), int(bool(estimated))),
            )  # fmt: skip
            return cur.lastrowid

    def fm_calls(self, node: int | None = None) -> list[FMCall]:
        """Recorded FM calls, all or of one node, in order."""
        where, args = ("WHERE node = ?", (node,)) if node is not None else ("", ())
        rows = self.db.query(f"SELECT {FM_COLUMNS} FROM fm_calls {where} ORDER BY id", args)
        return [FMCall(*r[:9], bool(r[9]), *r[10:13], bool(r[13])) for r in rows]

    def fm_estimated(self, node: int | None = None) -> tuple[int, float]:
        """(calls, cost) of the calls whose tokens were estimated (no usage in the reply)."""
        where, args = ("AND node = ?", (node,)) if node is not None else ("", ())
        calls, cost = self.db.one(
            f"SELECT COUNT(*), COALESCE(SUM(cost), 0.0) FROM fm_calls WHERE estimated = 1 {where}",
            args,
        )
        return calls, cost

    def fm_totals(self, node: int | None = None) -> tuple[int, int, float]:
        """(calls, prompt + completion tokens, cost) over all calls or one node's."""
        where, args = ("WHERE node = ?", (node,)) if node is not None else ("", ())
        calls, tokens, cost = self.db.one(
            "SELECT COUNT(*), COALESCE(SUM(prompt_tokens + completion_tokens), 0),"
            f" COALESCE(SUM(cost), 0.0) FROM fm_calls {where}",
            args,
        )
        return calls, tokens, cost

    # -- events and state ----------------------------------------------------------------
    def log_event(self, kind: str, data: dict[str, Any] | None = None) -> int:
        """Append an event (data is stored as JSON); returns its id."""
        with self.db.write() as c:
            cur = c.execute(
                "INSERT INTO events (kind, data, created) VALUES (?, ?, ?)",
                (kind, json.dumps(data or {}, default=str), time.time()),
            )
            return cur.lastrowid

    def events(self, kind: str | None = None) -> list[Event]:
        """Events in order, all or of one kind."""
        where, args = ("WHERE kind = ?", (kind,)) if kind is not None else ("", ())
        sql = f"SELECT id, kind, data, created FROM events {where} ORDER BY id"
        rows = self.db.query(sql, args)
        return [Event(r[0], r[1], json.loads(r[2]), r[3]) for r in rows]

    def get_state(self, key: str) -> Any | None:
        """A JSON value stored with put_state, or None."""
        row = self.db.one("SELECT value FROM state WHERE key = ?", (key,))
        return None if row is None else json.loads(row[0])

    def put_state(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable value under `key` (replacing any earlier one)."""
        with self.db.write() as c:
            c.execute(
                "INSERT OR REPLACE INTO state (key, value, updated) VALUES (?, ?, ?)",
                (key, json.dumps(value), time.time()),
            )
