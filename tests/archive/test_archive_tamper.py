"""The `tampered` outcome, quarantine decisions, bad-node counts and the schema-2 migration."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import archive.db as db_module
from archive import SCHEMA_VERSION, Archive, ArchiveError, Stats, UnknownNode


def grow(archive: Archive, parents: list[int], status: str = "valid") -> None:
    for p in parents:
        archive.add_child(p, diff="", status=status)


def test_tampered_is_a_failed_trial_counted_in_own_and_clade(archive: Archive):
    archive.set_quarantine_mode("off")
    grow(archive, [0, 1])  # 0 -> 1 -> 2
    archive.record_evaluation(2, "b", "t1", "tampered", reason="tests reported: 0 of 3")
    archive.record_evaluation(2, "b", "t2", "resolved")
    archive.record_evaluation(1, "b", "t1", "unresolved")
    assert archive.own_stats(2) == Stats(1, 2, tampered=1)
    assert archive.own_stats(2).tamper_rate == 0.5
    assert archive.clade_stats(1) == Stats(1, 3, tampered=1)
    assert archive.clade_stats(0) == Stats(1, 3, tampered=1)
    assert archive.tamper_totals() == (1, 3)
    evals = archive.evaluations(2)
    assert (evals[0].outcome, evals[0].reason) == ("tampered", "tests reported: 0 of 3")
    assert evals[1].reason is None
    # off: a failure only, no quarantine
    assert archive.node(2).quarantine is None and archive.events("quarantine") == []
    assert archive.check() == []


def test_unknown_outcome_is_still_refused(archive: Archive):
    with pytest.raises(ArchiveError, match="tampered"):
        archive.record_evaluation(0, "b", "t", "forged")


def test_auto_quarantine_holds_node_and_counts_it_bad_in_ancestors(archive: Archive):
    assert archive.quarantine_mode == "auto"  # the default
    grow(archive, [0, 1, 1])  # 0 -> 1 -> {2, 3}
    eid = archive.record_evaluation(2, "b", "t1", "tampered", reason="exit before report")
    node = archive.node(2)
    assert node.quarantine == "quarantined" and node.held
    assert archive.own_stats(2).bad_nodes == 1
    assert [archive.clade_stats(n).bad_nodes for n in (0, 1, 2, 3)] == [1, 1, 1, 0]
    [event] = archive.events("quarantine")
    assert event.data["node"] == 2 and event.data["state"] == "quarantined"
    assert event.data["evaluation"] == eid and event.data["evidence"] == "exit before report"
    # a second tampered result is no new decision
    archive.record_evaluation(2, "b", "t2", "tampered")
    assert len(archive.events("quarantine")) == 1
    assert archive.clade_stats(0).bad_nodes == 1 and archive.clade_stats(0).tampered == 2
    assert archive.check() == []


def test_manual_quarantine_waits_then_approve_and_reject(archive: Archive):
    archive.set_quarantine_mode("manual")
    grow(archive, [0, 0])
    archive.record_evaluation(1, "b", "t1", "tampered", reason="shadowed unittest")
    archive.record_evaluation(2, "b", "t1", "tampered", reason="extra test file")
    assert archive.waiting() == [1, 2]
    archive.approve(1, note="false alarm")
    archive.reject(2)
    assert archive.waiting() == []
    assert archive.quarantine_states() == {1: "approved", 2: "rejected"}
    assert not archive.node(1).held and archive.node(2).held
    assert archive.own_stats(1).bad_nodes == 0 and archive.clade_stats(0).bad_nodes == 1
    approve, reject = archive.events("approve"), archive.events("reject")
    assert approve[0].data["node"] == 1 and approve[0].data["note"] == "false alarm"
    assert reject[0].data["node"] == 2 and reject[0].data["was"] == "waiting"
    # decisions are final; a new tamper of an approved node needs a new decision
    with pytest.raises(ArchiveError, match="already approved"):
        archive.approve(1)
    with pytest.raises(ArchiveError, match="already rejected"):
        archive.approve(2)
    archive.record_evaluation(1, "b", "t2", "tampered")
    assert archive.node(1).quarantine == "waiting" and archive.waiting() == [1]
    assert archive.check() == []


def test_decision_errors_are_one_line(archive: Archive):
    grow(archive, [0])
    with pytest.raises(ArchiveError, match="never quarantined") as exc:
        archive.approve(1)
    assert "\n" not in str(exc.value)
    with pytest.raises(UnknownNode):
        archive.reject(9)
    with pytest.raises(ArchiveError, match="quarantine must be one of"):
        archive.set_quarantine_mode("sometimes")


def test_quarantine_changes_reads_decisions_in_order(archive: Archive):
    archive.set_quarantine_mode("manual")
    grow(archive, [0, 0])
    changes, last = archive.quarantine_changes()
    assert changes == []
    archive.record_evaluation(1, "b", "t", "tampered")
    archive.log_event("unrelated", {"node": 1})
    archive.approve(1)
    changes, last2 = archive.quarantine_changes(last)
    assert changes == [(1, "waiting"), (1, "approved")] and last2 > last
    assert archive.quarantine_changes(last2) == ([], last2)


def test_invalid_children_count_as_bad_nodes_of_their_ancestors(archive: Archive):
    grow(archive, [0])  # 1 valid
    grow(archive, [1, 1], status="invalid")  # 2, 3 invalid
    assert [archive.clade_stats(n).bad_nodes for n in (0, 1, 2, 3)] == [2, 2, 1, 1]
    archive.set_status(2, "valid")  # e.g. re-validated
    assert archive.clade_stats(0).bad_nodes == 1 and archive.own_stats(2).bad_nodes == 0
    archive.set_status(1, "invalid")
    assert archive.clade_stats(0).bad_nodes == 2 and archive.clade_stats(1).bad_nodes == 2
    assert archive.check() == []


def test_bad_nodes_count_once_when_invalid_and_quarantined(archive: Archive):
    grow(archive, [0])
    archive.record_evaluation(1, "b", "t", "tampered")
    archive.set_status(1, "invalid")
    assert archive.clade_stats(0).bad_nodes == 1
    archive.approve(1)  # still invalid: still bad
    assert archive.clade_stats(0).bad_nodes == 1
    assert archive.check() == []


def test_stored_mode_is_shared_by_every_opener(archive: Archive):
    archive.set_quarantine_mode("manual")
    again = Archive.open(archive.run_dir)
    assert again.quarantine_mode == "manual"
    archive.set_quarantine_mode("manual")  # unchanged: no second event
    assert [e.data["mode"] for e in archive.events("quarantine_mode")] == ["manual"]


def test_a_schema_1_archive_migrates(tmp_path: Path, seed_dir: Path, monkeypatch):
    """An archive written before `tampered` existed: evaluations keep their ids, invalid
    nodes are counted, and new outcomes are accepted."""
    with monkeypatch.context() as m:
        m.setattr(db_module, "MIGRATIONS", db_module.MIGRATIONS[:1])
        m.setattr(db_module, "SCHEMA_VERSION", 1)
        old = Archive.create(tmp_path / "run", seed_dir)
        grow(old, [0, 1, 1])  # valid children only: the v1 path
        c = old.db.conn()
        c.execute("UPDATE nodes SET status = 'invalid' WHERE id = 3")
        rows = [(5, 2, "resolved"), (9, 1, "error"), (12, 0, "unresolved")]
        for eid, node, outcome in rows:
            c.execute(
                "INSERT INTO evaluations (id, node, benchmark, task, outcome, created)"
                " VALUES (?, ?, 'b', 't', ?, 0)",
                (eid, node, outcome),
            )
        # the v1 stats, as record_evaluation made them
        c.execute("UPDATE stats SET own_successes = 1, own_trials = 1 WHERE node = 2")
        c.execute("UPDATE stats SET own_trials = 1 WHERE node IN (0, 1)")
        c.execute("UPDATE stats SET clade_successes = 1, clade_trials = 3 WHERE node = 0")
        c.execute("UPDATE stats SET clade_successes = 1, clade_trials = 2 WHERE node = 1")
        c.execute("UPDATE stats SET clade_successes = 1, clade_trials = 1 WHERE node = 2")
        with pytest.raises(sqlite3.IntegrityError):
            c.execute(
                "INSERT INTO evaluations (node, benchmark, task, outcome, created)"
                " VALUES (0, 'b', 't', 'tampered', 0)"
            )
        old.close()
    new = Archive.open(tmp_path / "run")
    assert new.db.version() == SCHEMA_VERSION == 2
    assert [(e.id, e.node, e.outcome, e.reason) for e in new.evaluations()] == [
        (5, 2, "resolved", None), (9, 1, "error", None), (12, 0, "unresolved", None),
    ]  # fmt: skip
    assert [new.clade_stats(n).bad_nodes for n in (0, 1, 2, 3)] == [1, 1, 0, 1]
    assert new.check() == []
    eid = new.record_evaluation(2, "b", "t", "tampered", reason="hidden tests changed")
    assert eid > 12 and new.node(2).quarantine == "quarantined"
    assert new.clade_stats(0) == Stats(1, 4, tampered=1, bad_nodes=2)
    assert new.check() == []
