"""The `Archive`: a run's agents as commits in a bare git repository, everything else in SQLite.

Adding a node writes its git objects first (outside any lock), then, inside one SQLite write
transaction, allocates the id, makes the commit, points `refs/nodes/<id>` at it and inserts
the row. A crash can therefore leave at most a ref without a row (never a row without its
ref); `Archive.open` drops such refs while it holds the write lock."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.checks import ChecksMixin
from archive.db import Database
from archive.errors import ArchiveError, UnknownNode
from archive.gitstore import GitStore
from archive.models import STATUSES, Diff, Node
from archive.quarantine import QuarantineMixin
from archive.records import RecordsMixin

if TYPE_CHECKING:
    import networkx as nx

GIT_DIR = "archive.git"
DB_FILE = "archive.db"
NODE_COLUMNS = (
    "id, commit_sha, parent, created, entry, problem_statement, status, reason, meta, "
    "files_changed, lines_added, lines_removed, quarantine"
)


def _node(row: tuple) -> Node:
    return Node(
        id=row[0],
        commit=row[1],
        parent=row[2],
        created=row[3],
        entry=row[4],
        problem_statement=row[5],
        status=row[6],
        reason=row[7],
        meta=json.loads(row[8]),
        diffstat=None if row[9] is None else (row[9], row[10], row[11]),
        quarantine=row[12],
    )


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ArchiveError(f"status must be one of {', '.join(STATUSES)}, not '{status}'")


class Archive(RecordsMixin, QuarantineMixin, ChecksMixin):
    """One run's archive in `run_dir` (archive.git + archive.db). Thread- and process-safe."""

    def __init__(self, run_dir: Path, git: GitStore, db: Database):
        self.run_dir = Path(run_dir)
        self.git = git
        self.db = db
        self._parents: dict[int, int | None] = {}  # parents never change: cache for lineage
        self._trees: dict[int, tuple[str, str]] = {}  # node -> (commit, tree), also immutable

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def create(cls, run_dir: str | Path, seed_dir: str | Path) -> Archive:
        """A new archive in `run_dir` whose root (node 0) holds the files of `seed_dir`."""
        run_dir = Path(run_dir)
        if (run_dir / GIT_DIR).exists() or (run_dir / DB_FILE).exists():
            raise ArchiveError(f"'{run_dir}' holds an archive already")
        if not Path(seed_dir).is_dir():
            raise ArchiveError(f"no seed directory at '{seed_dir}'")
        run_dir.mkdir(parents=True, exist_ok=True)
        git = GitStore.init(run_dir / GIT_DIR)
        db = Database(run_dir / DB_FILE)
        db.migrate()
        tree = git.tree_from_dir(Path(seed_dir))
        commit = git.commit(tree, None, 0, "node 0 (seed)")
        with db.write() as c:
            git.set_ref(0, commit)
            c.execute(
                "INSERT INTO nodes (id, commit_sha, tree_sha, parent, created, status, meta)"
                " VALUES (0, ?, ?, NULL, ?, 'valid', '{}')",
                (commit, tree, time.time()),
            )
            c.execute("INSERT INTO stats (node) VALUES (0)")
        return cls(run_dir, git, db)

    @classmethod
    def open(cls, run_dir: str | Path) -> Archive:
        """The archive in `run_dir`; migrates its schema and drops refs a crash left behind."""
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise ArchiveError(f"no run directory at '{run_dir}'")
        if not (run_dir / GIT_DIR).is_dir() or not (run_dir / DB_FILE).is_file():
            raise ArchiveError(f"'{run_dir}' is not a run directory (no {GIT_DIR} / {DB_FILE})")
        archive = cls(run_dir, GitStore(run_dir / GIT_DIR), Database(run_dir / DB_FILE))
        archive.db.migrate()
        archive.repair()
        return archive

    def close(self) -> None:
        """Close this thread's database connection and end the git processes."""
        self.db.close()
        self.git.close()

    # -- nodes ---------------------------------------------------------------------------
    def add_child(
        self,
        parent: int,
        files_dir: str | Path | None = None,
        diff: str | None = None,
        entry: str | None = None,
        problem_statement: str | None = None,
        status: str = "valid",
        reason: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Node:
        """Commit a child of `parent` from a directory's files or a diff against the parent.

        A diff that does not apply raises ArchiveError and adds nothing."""
        _check_status(status)
        if (files_dir is None) == (diff is None):
            raise ArchiveError("add_child needs exactly one of files_dir or diff")
        meta_json = json.dumps(meta or {}, sort_keys=True, default=str)
        parent_commit, parent_tree = self._commit_tree(parent)
        lineage = self.lineage(parent)
        if files_dir is not None:
            tree = self.git.tree_from_dir(Path(files_dir))
        else:
            tree = self.git.tree_from_diff(parent_tree, diff)
        with self.db.write() as c:
            node_id = c.execute("SELECT COALESCE(MAX(id), -1) + 1 FROM nodes").fetchone()[0]
            commit = self.git.commit(tree, parent_commit, node_id, f"node {node_id}")
            self.git.set_ref(node_id, commit)
            try:
                created = time.time()
                c.execute(
                    "INSERT INTO nodes (id, commit_sha, parent, created, entry,"
                    " problem_statement, status, reason, meta, tree_sha)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (node_id, commit, parent, created, entry, problem_statement, status,
                     reason, meta_json, tree),
                )  # fmt: skip
                c.execute("INSERT INTO stats (node) VALUES (?)", (node_id,))
                if status == "invalid":  # an invalid child is a failure of its ancestors' clades
                    self._on_status(c, [*lineage, node_id], "valid", status, None)
            except BaseException:
                self.git.delete_ref(node_id)  # the row will not exist: neither shall the ref
                raise
        self._parents[node_id] = parent
        self._trees[node_id] = (commit, tree)
        return Node(
            node_id, commit, parent, created, entry, problem_statement, status, reason,
            json.loads(meta_json), None,
        )  # fmt: skip

    def set_status(self, node_id: int, status: str, reason: str | None = None) -> None:
        """Change a node's status (and the reason for it)."""
        _check_status(status)
        lineage = self.lineage(node_id)  # raises UnknownNode
        with self.db.write() as c:
            old, quarantine = c.execute(
                "SELECT status, quarantine FROM nodes WHERE id = ?", (node_id,)
            ).fetchone()
            c.execute(
                "UPDATE nodes SET status = ?, reason = ? WHERE id = ?", (status, reason, node_id)
            )
            self._on_status(c, lineage, old, status, quarantine)

    def root(self) -> Node:
        return self.node(0)

    def node(self, node_id: int) -> Node:
        row = self.db.one(f"SELECT {NODE_COLUMNS} FROM nodes WHERE id = ?", (node_id,))
        if row is None:
            raise UnknownNode(node_id)
        return _node(row)

    def nodes(self) -> list[Node]:
        return [_node(r) for r in self.db.query(f"SELECT {NODE_COLUMNS} FROM nodes ORDER BY id")]

    def has_node(self, node_id: int) -> bool:
        return self.db.one("SELECT 1 FROM nodes WHERE id = ?", (node_id,)) is not None

    def children(self, node_id: int) -> list[int]:
        """Ids of the node's children, ascending."""
        self._parent(node_id)
        rows = self.db.query("SELECT id FROM nodes WHERE parent = ? ORDER BY id", (node_id,))
        return [r[0] for r in rows]

    def descendants(self, node_id: int) -> list[int]:
        """Ids of all the node's descendants (not itself), ascending."""
        self._parent(node_id)
        rows = self.db.query(
            "WITH RECURSIVE d(id) AS (SELECT id FROM nodes WHERE parent = ?"
            " UNION ALL SELECT n.id FROM nodes n JOIN d ON n.parent = d.id)"
            " SELECT id FROM d ORDER BY id",
            (node_id,),
        )
        return [r[0] for r in rows]

    def lineage(self, node_id: int) -> list[int]:
        """Ids from the root to the node (both included); O(depth) from the parent cache."""
        path = [node_id]
        parent = self._parent(node_id)
        while parent is not None:
            path.append(parent)
            parent = self._parent(parent)
        return path[::-1]

    def _parent(self, node_id: int) -> int | None:
        try:
            return self._parents[node_id]
        except KeyError:
            pass
        if not self._parents:  # first use: load every (id, parent) at once
            self._parents.update(self.db.query("SELECT id, parent FROM nodes"))
            if node_id in self._parents:
                return self._parents[node_id]
        row = self.db.one("SELECT parent FROM nodes WHERE id = ?", (node_id,))
        if row is None:
            raise UnknownNode(node_id)
        self._parents[node_id] = row[0]
        return row[0]

    def _commit_tree(self, node_id: int) -> tuple[str, str]:
        if node_id not in self._trees:
            row = self.db.one("SELECT commit_sha, tree_sha FROM nodes WHERE id = ?", (node_id,))
            if row is None:
                raise UnknownNode(node_id)
            self._trees[node_id] = (row[0], row[1])
        return self._trees[node_id]

    # -- code ----------------------------------------------------------------------------
    def materialize(self, node_id: int, dest: str | Path) -> Path:
        """Write the node's files into `dest` (created when missing); returns `dest`."""
        self.git.materialize(self._commit_tree(node_id)[1], Path(dest))
        return Path(dest)

    def diff(self, a: int, b: int) -> Diff:
        """The unified diff from node `a` to node `b`, with per-file counts."""
        return self.git.diff(self._commit_tree(a)[0], self._commit_tree(b)[0])

    def diffstats(self) -> dict[int, tuple[int, int, int]]:
        """node -> (files changed, lines added, lines removed) against its parent, for every
        node. Computed lazily (one git process for all nodes not yet known) and stored."""
        rows = self.db.query(
            "SELECT id, commit_sha, files_changed, lines_added, lines_removed FROM nodes"
        )
        known = {r[0]: (r[2], r[3], r[4]) for r in rows if r[2] is not None}
        todo = {r[0]: r[1] for r in rows if r[2] is None}
        if todo:
            fresh = self.git.numstats(list(todo.values()))
            found = {n: fresh[c] for n, c in todo.items()}
            with self.db.write() as c:
                c.executemany(
                    "UPDATE nodes SET files_changed = ?, lines_added = ?, lines_removed = ?"
                    " WHERE id = ?",
                    [(*s, n) for n, s in found.items()],
                )
            known.update(found)
        return known

    def graph(self) -> nx.DiGraph:
        """The lineage as a DiGraph (edges parent -> child) with node records and stats."""
        import networkx as nx  # slow to import; only views need it

        g = nx.DiGraph()
        stats = self.all_stats()
        diffstats = self.diffstats()
        for n in self.nodes():
            own, clade = stats[n.id]
            g.add_node(
                n.id, commit=n.commit, status=n.status, reason=n.reason, entry=n.entry,
                created=n.created, meta=n.meta, diffstat=diffstats[n.id],
                own_successes=own.successes, own_trials=own.trials,
                clade_successes=clade.successes, clade_trials=clade.trials,
                own_tampered=own.tampered, clade_bad=clade.bad_nodes, quarantine=n.quarantine,
            )  # fmt: skip
            if n.parent is not None:
                g.add_edge(n.parent, n.id)
        return g
