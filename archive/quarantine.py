"""Quarantine: a node with a tampered evaluation stops being a parent.

The run's mode (`off`, `auto`, `manual`; stored in the database so every process that opens
the run agrees) decides what a tampered evaluation does to its node: nothing, `quarantined`
at once, or `waiting` for a person's `approve` or `reject`. The state changes in the same
transaction as the evaluation that caused it, and every decision is an event (`quarantine`,
`approve`, `reject`), which is how a running loop in another process learns of it
(`quarantine_changes`).

Invalid and held nodes are "bad": each counts once in its own `own_bad` and in the
`clade_bad` of every ancestor, moved here in O(depth) whenever a node turns bad or good.

A mixin of `Archive`: it expects `self.db` and `self.lineage(node_id)`."""

from __future__ import annotations

import getpass
import json
import sqlite3
import time
from typing import Any

from archive.errors import ArchiveError, UnknownNode
from archive.models import HELD, QUARANTINE_MODES

DEFAULT_MODE = "auto"
DECISIONS = ("quarantine", "approve", "reject")  # the event kinds that change a node's state


def is_bad(status: str, quarantine: str | None) -> bool:
    """Counts as a failure of its ancestors' clades: invalid, or held in quarantine."""
    return status == "invalid" or quarantine in HELD


class QuarantineMixin:
    """Quarantine states, decisions and the bad-node counts of the clade statistics."""

    # -- the mode ----------------------------------------------------------------------------
    @property
    def quarantine_mode(self) -> str:
        row = self.db.one("SELECT value FROM meta WHERE key = 'quarantine'")
        return row[0] if row else DEFAULT_MODE

    def set_quarantine_mode(self, mode: str) -> None:
        """Set the run's mode (the run's config sets it at each start); a change is an event."""
        if mode not in QUARANTINE_MODES:
            raise ArchiveError(
                f"quarantine must be one of {', '.join(QUARANTINE_MODES)}, not '{mode}'"
            )
        with self.db.write() as c:
            row = c.execute("SELECT value FROM meta WHERE key = 'quarantine'").fetchone()
            if row is not None and row[0] == mode:
                return
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('quarantine', ?)", (mode,))
            _event(c, "quarantine_mode", {"mode": mode, "was": row[0] if row else None})

    # -- reading -----------------------------------------------------------------------------
    def quarantine_states(self) -> dict[int, str]:
        """node -> state, for every node ever quarantined."""
        rows = self.db.query("SELECT id, quarantine FROM nodes WHERE quarantine IS NOT NULL")
        return dict(rows)

    def waiting(self) -> list[int]:
        """Nodes waiting for a person's decision (manual mode), ascending."""
        rows = self.db.query("SELECT id FROM nodes WHERE quarantine = 'waiting' ORDER BY id")
        return [r[0] for r in rows]

    def last_event_id(self) -> int:
        """The id of the newest event (0 when there is none)."""
        return self.db.one("SELECT COALESCE(MAX(id), 0) FROM events")[0]

    def quarantine_changes(self, since: int = 0) -> tuple[list[tuple[int, str]], int]:
        """The decisions recorded after event id `since`, in order, as (node, new state), and
        the last event id seen (pass it back next time). One indexed range read."""
        last = self.last_event_id()
        marks = ",".join("?" * len(DECISIONS))
        rows = self.db.query(
            f"SELECT data FROM events WHERE id > ? AND id <= ? AND kind IN ({marks}) ORDER BY id",
            (since, last, *DECISIONS),
        )
        changes = []
        for (data,) in rows:
            d = json.loads(data)
            changes.append((int(d["node"]), d["state"]))
        return changes, last

    # -- decisions ---------------------------------------------------------------------------
    def approve(self, node_id: int, note: str | None = None) -> None:
        """A person lets a quarantined node be a parent again."""
        self._decide(node_id, "approve", "approved", note)

    def reject(self, node_id: int, note: str | None = None) -> None:
        """A person keeps a quarantined node out for good."""
        self._decide(node_id, "reject", "rejected", note)

    def _decide(self, node_id: int, kind: str, state: str, note: str | None) -> None:
        lineage = self.lineage(node_id)  # raises UnknownNode
        with self.db.write() as c:
            status, current = _node_state(c, node_id)
            if current not in ("quarantined", "waiting"):
                what = "was never quarantined" if current is None else f"is already {current}"
                raise ArchiveError(f"node {node_id} is not waiting for a decision (it {what})")
            c.execute("UPDATE nodes SET quarantine = ? WHERE id = ?", (state, node_id))
            _shift_bad(c, lineage, is_bad(status, state) - is_bad(status, current))
            _event(c, kind, {"node": node_id, "state": state, "was": current,
                             "by": _user(), "note": note})  # fmt: skip

    def _on_tampered(self, c: sqlite3.Connection, lineage: list[int], evaluation: int,
                     task: str, reason: str | None) -> None:  # fmt: skip
        """Inside record_evaluation's transaction: quarantine the node per the run's mode."""
        node_id = lineage[-1]
        row = c.execute("SELECT value FROM meta WHERE key = 'quarantine'").fetchone()
        mode = row[0] if row else DEFAULT_MODE
        status, current = _node_state(c, node_id)
        if mode == "off" or current in HELD:
            return  # off: a failure only; held already: no new decision to make
        # An approved node that tampers again needs a new decision.
        state = "quarantined" if mode == "auto" else "waiting"
        c.execute("UPDATE nodes SET quarantine = ? WHERE id = ?", (state, node_id))
        _shift_bad(c, lineage, is_bad(status, state) - is_bad(status, current))
        _event(c, "quarantine", {"node": node_id, "state": state, "was": current, "mode": mode,
                                 "evaluation": evaluation, "task": task,
                                 "evidence": (reason or "")[:2000]})  # fmt: skip

    def _on_status(self, c: sqlite3.Connection, lineage: list[int], old: str, new: str,
                   quarantine: str | None) -> None:  # fmt: skip
        """Inside set_status's transaction: move the bad-node counts if badness changed."""
        _shift_bad(c, lineage, is_bad(new, quarantine) - is_bad(old, quarantine))


def _node_state(c: sqlite3.Connection, node_id: int) -> tuple[str, str | None]:
    row = c.execute("SELECT status, quarantine FROM nodes WHERE id = ?", (node_id,)).fetchone()
    if row is None:
        raise UnknownNode(node_id)
    return row[0], row[1]


def _shift_bad(c: sqlite3.Connection, lineage: list[int], delta: int) -> None:
    """Add `delta` (-1, 0, +1) to the node's own_bad and to clade_bad along its lineage."""
    if not delta:
        return
    marks = ",".join("?" * len(lineage))
    c.execute("UPDATE stats SET own_bad = own_bad + ? WHERE node = ?", (delta, lineage[-1]))
    c.execute(
        f"UPDATE stats SET clade_bad = clade_bad + ? WHERE node IN ({marks})", (delta, *lineage)
    )


def _event(c: sqlite3.Connection, kind: str, data: dict[str, Any]) -> None:
    c.execute(
        "INSERT INTO events (kind, data, created) VALUES (?, ?, ?)",
        (kind, json.dumps(data, default=str), time.time()),
    )


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's uid): still a decision
        return "unknown"
