"""The git-backed archive: agents as commits, lineage, results and stats in SQLite."""
