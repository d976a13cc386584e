"""Soundness of an archive: `check()` lists problems, `repair()` drops what a crash left.

Both hold the SQLite write lock while they read the refs: every ref is written under that
lock, so no writer can be half-way through an `add_child` while they look."""

from __future__ import annotations

import json
import time

from archive.records import STATS_COLUMNS


class ChecksMixin:
    """A mixin of `Archive`: expects `self.db`, `self.git` and `self.computed_stats()`."""

    def repair(self) -> list[int]:
        """Delete node refs that have no row (an add_child killed before its commit) and stale
        ref locks; log what was dropped. Returns the dropped node ids. Cheap: it looks only
        above the highest id; `check()` looks at every ref."""
        with self.db.write() as c:
            self.git.clear_stale_locks()
            # Ids are allocated MAX(id) + 1 under this lock, so a crash can only have left the
            # ref just above the highest row (a later add reuses and overwrites it).
            top = c.execute("SELECT COALESCE(MAX(id), -1) FROM nodes").fetchone()[0]
            dangling = self.git.existing_refs(range(top + 1, top + 4))
            for node_id in dangling:
                self.git.delete_ref(node_id)
            if dangling:
                c.execute(
                    "INSERT INTO events (kind, data, created) VALUES ('repair', ?, ?)",
                    (json.dumps({"dropped_refs": dangling}), time.time()),
                )
        return dangling

    def check(self) -> list[str]:
        """Problems found (empty when sound): rows and refs agree both ways, commits exist,
        git parents match tree parents, stats equal a rebuild, one root with id 0."""
        problems: list[str] = []
        with self.db.locked() as c:
            refs = self.git.refs()
            rows = {
                r[0]: (r[1], r[2]) for r in c.execute("SELECT id, commit_sha, parent FROM nodes")
            }
            stored = {
                r[0]: tuple(r[1:]) for r in c.execute(f"SELECT node, {STATS_COLUMNS} FROM stats")
            }
            fresh = self.computed_stats()
            orphans = c.execute(
                "SELECT COUNT(*) FROM evaluations WHERE node NOT IN (SELECT id FROM nodes)"
            ).fetchone()[0]
        roots = [n for n, (_, parent) in rows.items() if parent is None]
        if roots != [0]:
            problems.append(f"expected one root with id 0, found {sorted(roots)}")
        missing = self.git.missing_objects(sorted({sha for sha, _ in rows.values()}))
        for node_id, (sha, parent) in sorted(rows.items()):
            if sha in missing:
                problems.append(f"node {node_id}: commit {sha[:12]} is missing from git")
            if node_id not in refs:
                problems.append(f"node {node_id}: no ref refs/nodes/{node_id}")
                continue
            ref_sha, git_parents = refs[node_id]
            if ref_sha != sha:
                problems.append(f"node {node_id}: ref points at {ref_sha[:12]}, row at {sha[:12]}")
            want = [rows[parent][0]] if parent is not None and parent in rows else []
            if parent is not None and parent not in rows:
                problems.append(f"node {node_id}: parent {parent} has no row")
            elif git_parents != want:
                problems.append(f"node {node_id}: git parents {git_parents} != parent {parent}")
        for node_id in sorted(set(refs) - set(rows)):
            problems.append(f"ref refs/nodes/{node_id} has no node row")
        for node_id in sorted(set(rows) - set(stored)):
            problems.append(f"node {node_id}: no stats row")
        for node_id, want in sorted(fresh.items()):
            if node_id in stored and stored[node_id] != want:
                problems.append(f"node {node_id}: stats {stored[node_id]} != rebuilt {want}")
        if orphans:
            problems.append(f"{orphans} evaluations name nodes that do not exist")
        return problems
