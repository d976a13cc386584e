"""Evaluations and clade stats, the FM ledger, events, state, schema and soundness checks."""

from __future__ import annotations

import sqlite3
import subprocess

import pytest

from archive import SCHEMA_VERSION, Archive, ArchiveError, Stats, UnknownNode


def grow(archive: Archive, parents: list[int]) -> None:
    for p in parents:
        archive.add_child(p, diff="")


def test_record_evaluation_updates_own_and_clade_stats(archive: Archive):
    grow(archive, [0, 1, 1])  # 0 -> 1 -> {2, 3}
    archive.record_evaluation(2, "humaneval", "HumanEval/1", "resolved", tokens=10, cost=0.5)
    archive.record_evaluation(3, "humaneval", "HumanEval/1", "unresolved")
    archive.record_evaluation(1, "humaneval", "HumanEval/2", "error", log_path="logs/x.md")
    assert archive.own_stats(2) == Stats(1, 1)
    assert archive.own_stats(1) == Stats(0, 1)
    assert archive.clade_stats(1) == Stats(1, 3)
    assert archive.clade_stats(0) == Stats(1, 3)
    assert archive.own_stats(0) == Stats(0, 0) and archive.own_stats(0).rate is None
    assert archive.clade_stats(3) == Stats(0, 1)
    assert archive.all_stats()[1] == (Stats(0, 1), Stats(1, 3))
    assert archive.check() == []


def test_evaluations_are_listed_and_evaluated_tasks_collected(archive: Archive):
    grow(archive, [0])
    first = archive.record_evaluation(1, "b", "t1", "empty", tokens=3, seconds=1.5)
    archive.record_evaluation(1, "b", "t2", "resolved")
    archive.record_evaluation(0, "b", "t1", "resolved")
    evals = archive.evaluations(1)
    assert [e.task for e in evals] == ["t1", "t2"] and evals[0].id == first
    assert (evals[0].outcome, evals[0].tokens, evals[0].seconds) == ("empty", 3, 1.5)
    assert evals[1].success and not evals[0].success
    assert len(archive.evaluations()) == 3
    assert archive.evaluated_tasks(1) == {"t1", "t2"}
    assert archive.evaluated_tasks(0) == {"t1"}


def test_record_evaluation_rejects_bad_outcomes_and_unknown_nodes(archive: Archive):
    with pytest.raises(ArchiveError, match="outcome"):
        archive.record_evaluation(0, "b", "t", "great")
    with pytest.raises(UnknownNode):
        archive.record_evaluation(4, "b", "t", "resolved")
    with pytest.raises(UnknownNode):
        archive.own_stats(4)
    assert archive.evaluations() == []


def test_rebuild_stats_repairs_corrupted_counts(archive: Archive):
    grow(archive, [0, 1])
    archive.record_evaluation(2, "b", "t", "resolved")
    before = archive.all_stats()
    with archive.db.write() as c:
        c.execute("UPDATE stats SET clade_trials = 42 WHERE node = 1")
    problems = archive.check()
    assert len(problems) == 1 and "node 1: stats" in problems[0]
    archive.rebuild_stats()
    assert archive.all_stats() == before and archive.check() == []


def test_fm_ledger(archive: Archive):
    archive.record_fm_call("s1", 0, "t1", "solve", "sim", 100, 20, 0.01, False, 0.5)
    archive.record_fm_call("s1", 0, "t1", "solve", "sim", 50, 5, 0.0, True, 0.1)
    archive.record_fm_call("s2", None, None, "diagnose", "sim", 7, 3, 0.002, False, 0.2, "boom")
    assert archive.fm_totals() == (3, 185, pytest.approx(0.012))
    assert archive.fm_totals(0) == (2, 175, pytest.approx(0.01))
    assert archive.fm_totals(5) == (0, 0, 0.0)
    calls = archive.fm_calls()
    assert calls[1].cached is True and calls[2].error == "boom" and calls[2].node is None


def test_events_and_state(archive: Archive):
    archive.log_event("start", {"seed": 1})
    archive.log_event("job_failed", {"node": 3})
    archive.log_event("start", {"seed": 2})
    assert [e.data["seed"] for e in archive.events("start")] == [1, 2]
    assert [e.kind for e in archive.events()] == ["start", "job_failed", "start"]
    assert archive.get_state("loop") is None
    archive.put_state("loop", {"rng": [1, 2, 3], "done": False})
    archive.put_state("loop", {"rng": [4], "done": True})
    assert Archive.open(archive.run_dir).get_state("loop") == {"rng": [4], "done": True}


def test_schema_is_versioned_and_a_newer_one_is_refused(archive: Archive):
    db = archive.db.path
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
            str(SCHEMA_VERSION),
        )
        assert c.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        c.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(ArchiveError, match="newer"):
        Archive.open(archive.run_dir)


def test_open_drops_a_dangling_ref_and_check_reports_mismatches(archive: Archive):
    grow(archive, [0])
    git = ["git", "--git-dir", str(archive.git.path)]
    commit = archive.node(1).commit
    # What a crash between update-ref and the row's commit leaves behind:
    subprocess.run([*git, "update-ref", "refs/nodes/2", commit], check=True)
    assert archive.check() == ["ref refs/nodes/2 has no node row"]
    reopened = Archive.open(archive.run_dir)
    assert reopened.check() == []
    assert reopened.events("repair")[0].data == {"dropped_refs": [2]}
    subprocess.run([*git, "update-ref", "refs/nodes/1", archive.root().commit], check=True)
    assert any("ref points at" in p for p in reopened.check())
    subprocess.run([*git, "update-ref", "-d", "refs/nodes/1"], check=True)
    assert "node 1: no ref refs/nodes/1" in reopened.check()


def test_next_child_reuses_the_id_of_a_dropped_ref(archive: Archive):
    subprocess.run(
        ["git", "--git-dir", str(archive.git.path), "update-ref", "refs/nodes/1",
         archive.root().commit], check=True,
    )  # fmt: skip
    node = archive.add_child(0, diff="")
    assert node.id == 1 and archive.check() == []


def test_open_clears_a_stale_ref_lock_left_by_a_killed_writer(archive: Archive):
    lock = archive.git.path / "refs" / "nodes" / "1.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")
    reopened = Archive.open(archive.run_dir)
    assert not lock.exists()
    assert reopened.add_child(0, diff="").id == 1 and reopened.check() == []


def test_materialize_refuses_tree_entries_that_leave_the_directory():
    from archive.gitstore import parse_tree

    sha = bytes(20)
    assert parse_tree(b"100644 ok.py\0" + sha) == [("100644", "ok.py", "00" * 20)]
    for bad in (b"..", b"a/b", b"."):
        with pytest.raises(ArchiveError, match="refusing"):
            parse_tree(b"100644 " + bad + b"\0" + sha)
