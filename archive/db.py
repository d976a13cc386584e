"""The archive's SQLite database: schema, migrations and per-thread connections.

WAL mode lets readers run beside one writer; every write is a `BEGIN IMMEDIATE` transaction,
which serialises writers across threads and processes (busy_timeout waits for the lock)."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from archive.errors import ArchiveError

# Each entry moves the schema one version up; append, never edit a released one.
MIGRATIONS: list[str] = [
    # 1: the initial schema
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE nodes (
        id INTEGER PRIMARY KEY,
        commit_sha TEXT NOT NULL,
        tree_sha TEXT NOT NULL,
        parent INTEGER REFERENCES nodes(id),
        created REAL NOT NULL,
        entry TEXT,
        problem_statement TEXT,
        status TEXT NOT NULL CHECK (status IN ('pending', 'valid', 'invalid')),
        reason TEXT,
        meta TEXT NOT NULL DEFAULT '{}',
        files_changed INTEGER,
        lines_added INTEGER,
        lines_removed INTEGER
    );
    CREATE INDEX nodes_parent ON nodes(parent);
    CREATE TABLE stats (
        node INTEGER PRIMARY KEY REFERENCES nodes(id),
        own_successes INTEGER NOT NULL DEFAULT 0,
        own_trials INTEGER NOT NULL DEFAULT 0,
        clade_successes INTEGER NOT NULL DEFAULT 0,
        clade_trials INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE evaluations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        node INTEGER NOT NULL REFERENCES nodes(id),
        benchmark TEXT NOT NULL,
        task TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('resolved', 'unresolved', 'empty', 'error')),
        tokens INTEGER NOT NULL DEFAULT 0,
        cost REAL NOT NULL DEFAULT 0,
        seconds REAL NOT NULL DEFAULT 0,
        log_path TEXT,
        created REAL NOT NULL
    );
    CREATE INDEX evaluations_node ON evaluations(node);
    CREATE TABLE fm_calls (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session TEXT NOT NULL,
        node INTEGER,
        task TEXT,
        role TEXT NOT NULL,
        model TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        cost REAL NOT NULL DEFAULT 0,
        cached INTEGER NOT NULL DEFAULT 0,
        seconds REAL NOT NULL DEFAULT 0,
        error TEXT,
        created REAL NOT NULL
    );
    CREATE INDEX fm_calls_node ON fm_calls(node);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        data TEXT NOT NULL,
        created REAL NOT NULL
    );
    CREATE INDEX events_kind ON events(kind);
    CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated REAL NOT NULL);
    """,
    # 2: the `tampered` outcome and each evaluation's reason (SQLite cannot alter a CHECK, so
    # the table is copied); quarantine per node; tamper and invalid-node counts in the stats.
    """
    CREATE TABLE evaluations_v2 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        node INTEGER NOT NULL REFERENCES nodes(id),
        benchmark TEXT NOT NULL,
        task TEXT NOT NULL,
        outcome TEXT NOT NULL
            CHECK (outcome IN ('resolved', 'unresolved', 'empty', 'error', 'tampered')),
        tokens INTEGER NOT NULL DEFAULT 0,
        cost REAL NOT NULL DEFAULT 0,
        seconds REAL NOT NULL DEFAULT 0,
        log_path TEXT,
        created REAL NOT NULL,
        reason TEXT
    );
    INSERT INTO evaluations_v2
        (id, node, benchmark, task, outcome, tokens, cost, seconds, log_path, created)
        SELECT id, node, benchmark, task, outcome, tokens, cost, seconds, log_path, created
        FROM evaluations;
    DROP TABLE evaluations;
    ALTER TABLE evaluations_v2 RENAME TO evaluations;
    CREATE INDEX evaluations_node ON evaluations(node);
    ALTER TABLE nodes ADD COLUMN quarantine TEXT
        CHECK (quarantine IN ('quarantined', 'waiting', 'approved', 'rejected'));
    ALTER TABLE stats ADD COLUMN own_tampered INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE stats ADD COLUMN own_bad INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE stats ADD COLUMN clade_tampered INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE stats ADD COLUMN clade_bad INTEGER NOT NULL DEFAULT 0;
    UPDATE stats SET own_bad = 1 WHERE node IN (SELECT id FROM nodes WHERE status = 'invalid');
    CREATE TEMP TABLE bad_counts (node INTEGER PRIMARY KEY, n INTEGER NOT NULL);
    INSERT INTO bad_counts
        WITH RECURSIVE up(id) AS (
            SELECT id FROM nodes WHERE status = 'invalid'
            UNION ALL SELECT n.parent FROM nodes n JOIN up ON n.id = up.id
            WHERE n.parent IS NOT NULL)
        SELECT id, COUNT(*) FROM up GROUP BY id;
    UPDATE stats SET clade_bad = COALESCE(
        (SELECT n FROM bad_counts WHERE bad_counts.node = stats.node), 0);
    DROP TABLE bad_counts;
    -- FM calls whose tokens dgm counted because the provider's reply had no usage
    ALTER TABLE fm_calls ADD COLUMN estimated INTEGER NOT NULL DEFAULT 0
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


class Database:
    """One SQLite file; each thread gets its own connection."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()

    def conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None or self._local.pid != os.getpid():  # never reuse one across a fork
            # Autocommit mode: transactions are explicit (`BEGIN IMMEDIATE` in write()).
            c = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            c.execute("PRAGMA busy_timeout = 60000")
            c.execute("PRAGMA journal_mode = WAL")
            c.execute("PRAGMA synchronous = NORMAL")  # durable across process crashes
            c.execute("PRAGMA foreign_keys = ON")
            self._local.conn, self._local.pid = c, os.getpid()
        return c

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the database's write lock; rolled back on error."""
        c = self.conn()
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")

    @contextmanager
    def locked(self) -> Iterator[sqlite3.Connection]:
        """Hold the write lock for a consistent read beside git; changes nothing."""
        c = self.conn()
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
        finally:
            c.execute("ROLLBACK")

    def query(self, sql: str, args: tuple = ()) -> list[tuple]:
        return self.conn().execute(sql, args).fetchall()

    def one(self, sql: str, args: tuple = ()) -> tuple | None:
        return self.conn().execute(sql, args).fetchone()

    def version(self) -> int:
        c = self.conn()
        has_meta = c.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if not has_meta:
            return 0
        row = c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def migrate(self) -> int:
        """Bring the schema up to SCHEMA_VERSION, one transaction per step; returns it."""
        with self.write() as c:
            current = self.version()
            if current > SCHEMA_VERSION:
                raise ArchiveError(
                    f"archive schema {current} is newer than this dgm ({SCHEMA_VERSION})"
                )
            for number in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[number - 1].split(";"):
                    if statement.strip():
                        c.execute(statement)
                c.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(number),),
                )
        return SCHEMA_VERSION

    def close(self) -> None:
        c = getattr(self._local, "conn", None)
        if c is not None:
            c.close()
            self._local.conn = None
