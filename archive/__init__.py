"""The git-backed archive: agents as commits, lineage, results and stats in SQLite."""

from archive.archive import DB_FILE, GIT_DIR, Archive
from archive.db import MIGRATIONS, SCHEMA_VERSION
from archive.errors import ArchiveError, UnknownNode
from archive.models import (
    HELD,
    OUTCOMES,
    QUARANTINE_MODES,
    QUARANTINES,
    STATUSES,
    TAMPERED,
    Diff,
    Evaluation,
    Event,
    FMCall,
    Node,
    Stats,
)

__all__ = [
    "Archive",
    "ArchiveError",
    "DB_FILE",
    "Diff",
    "Evaluation",
    "Event",
    "FMCall",
    "GIT_DIR",
    "HELD",
    "MIGRATIONS",
    "Node",
    "OUTCOMES",
    "QUARANTINES",
    "QUARANTINE_MODES",
    "SCHEMA_VERSION",
    "STATUSES",
    "Stats",
    "TAMPERED",
    "UnknownNode",
]
