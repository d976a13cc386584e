"""The JSON the web viewer reads: the whole tree (cached until the archive changes) and one
node's details. Only the archive and files inside the run directory are read."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from dgm.run.rundir import RunDir
from dgm.views.data import Snapshot, ViewError
from dgm.views.layout import tree_layout

MAX_REPLAYS = 20
MAX_DIFF_CHARS = 400_000
MAX_LOG_CHARS = 2_000_000
MAX_LISTING = 500


def _open_archive(root: Path) -> Any:
    from archive import Archive

    return Archive.open(root)


class RunData:
    """One run's data for the server threads (the archive keeps one SQLite connection per
    thread) and a tree payload rebuilt only when the database files change."""

    def __init__(self, run: RunDir):
        self.run = run
        self.root = run.root.resolve()
        self._lock = threading.Lock()
        self._tree: tuple[tuple, bytes] | None = None
        self.archive = _open_archive(self.run.root)

    def _db_stamp(self) -> tuple:
        stamp = []
        for name in ("archive.db", "archive.db-wal"):
            try:
                st = (self.run.root / name).stat()
                stamp.append((st.st_mtime_ns, st.st_size))
            except FileNotFoundError:
                stamp.append(None)
        return tuple(stamp)

    def tree_json(self) -> bytes:
        """The tree as compact columnar JSON; rebuilt only when the archive changed."""
        with self._lock:
            stamp = self._db_stamp()
            if self._tree is None or self._tree[0] != stamp:
                snap = Snapshot.results_only(self.archive)
                payload = tree_payload(snap, self.run.run_id)
                self._tree = (stamp, json.dumps(payload, separators=(",", ":")).encode())
            return self._tree[1]

    def node_json(self, node_id: int) -> bytes:
        return json.dumps(node_payload(self.archive, self.root, node_id)).encode()

    def log_json(self, path: str) -> bytes:
        return json.dumps(log_payload(self.root, path)).encode()


def tree_payload(snap: Snapshot, run_name: str) -> dict[str, Any]:
    pos = tree_layout(snap)
    ids = sorted(pos)
    rows = [snap.nodes[i] for i in ids]
    best = snap.final_agent()  # "best" in the JSON: the viewer's name for the final agent
    tampered, evaluations = snap.tamper_totals()
    return {
        "run": run_name,
        "tampered_total": tampered,
        "evaluations_total": evaluations,
        "tamper_rate": tampered / evaluations if evaluations else None,
        "best": best,
        "best_path": snap.path_to(best) if best is not None else [],
        "min_trials": snap.min_trials(),
        "id": ids,
        "parent": [r.parent for r in rows],
        "status": [r.status for r in rows],
        "x": [pos[i][0] for i in ids],
        "y": [pos[i][1] for i in ids],
        "successes": [r.successes for r in rows],
        "trials": [r.trials for r in rows],
        "clade": [list(r.clade) if r.clade else None for r in rows],
        "tampered": [r.tampered for r in rows],
        "quarantine": [r.quarantine for r in rows],
    }


def relative_to_run(root: Path, path: str | None) -> str | None:
    """A recorded path as the viewer asks for it: relative to the run directory. Recorded
    paths may be relative to wherever the run was started (`runs/NAME/logs/...`) or absolute
    from before the run moved, so the longest tail of the path that exists in the run wins."""
    if not path:
        return None
    p = Path(path)
    if p.is_absolute():
        try:
            return str(p.resolve().relative_to(root))
        except (ValueError, OSError):
            pass
    parts = [x for x in p.parts if x not in ("/", "")]
    for i in range(len(parts)):
        if ".." in parts[i:]:
            continue
        tail = Path(*parts[i:])
        if (root / tail).exists():
            return str(tail)
    return None  # not in this run: never offered


def locate_in_run(root: Path, path: str | None) -> Path | None:
    """The file a recorded path names inside the run directory, if it is there."""
    rel = relative_to_run(root, path)
    return root / rel if rel is not None else None


def evaluation_tests(root: Path, log_path: str | None) -> dict[str, str]:
    """The per-test results an evaluation's `result.json` keeps ({} when there are none)."""
    logs = locate_in_run(root, log_path)
    try:
        tests = json.loads((logs / "result.json").read_text()).get("tests") if logs else None
    except (OSError, ValueError, AttributeError):
        return {}
    return {str(k): str(v) for k, v in tests.items()} if isinstance(tests, dict) else {}


def tests_summary(tests: dict[str, str]) -> str:
    """`3/4` (passed of reported), or `-`."""
    return f"{sum(v == 'pass' for v in tests.values())}/{len(tests)}" if tests else "-"


def node_payload(archive: Any, root: Path, node_id: int) -> dict[str, Any]:
    from archive import ArchiveError

    try:
        node = archive.node(node_id)
    except ArchiveError:
        raise ViewError(f"no node {node_id} in this run") from None
    evals = [
        {
            "task": e.task,
            "outcome": str(e.outcome),
            "tokens": e.tokens,
            "cost": e.cost,
            "seconds": e.seconds,
            "log": relative_to_run(root, e.log_path),
            "reason": e.reason,
        }
        for e in archive.evaluations(node_id)
    ]
    tampered = sum(e["outcome"] == "tampered" for e in evals)
    decisions = [
        {"kind": ev.kind, "state": ev.data.get("state"), "created": ev.created,
         "evidence": ev.data.get("evidence"), "by": ev.data.get("by"), "note": ev.data.get("note")}
        for kind in ("quarantine", "approve", "reject")
        for ev in archive.events(kind)
        if ev.data.get("node") == node_id
    ]  # fmt: skip
    diff_text, diff_files = "", []
    if node.parent is not None:
        diff = archive.diff(node.parent, node_id)
        diff_text, diff_files = diff.text[:MAX_DIFF_CHARS], [list(f) for f in diff.files]
    calls, tokens, cost = archive.fm_totals(node=node_id)
    meta = dict(node.meta or {})
    if "log" in meta:
        meta["log"] = relative_to_run(root, meta["log"])
    return {
        "id": node.id,
        "parent": node.parent,
        "status": node.status,
        "reason": node.reason,
        "entry": node.entry,
        "created": str(node.created),
        "problem_statement": node.problem_statement,
        "meta": meta,
        "evaluations": evals,
        "tampered": tampered,
        "tamper_rate": tampered / len(evals) if evals else None,
        "quarantine": node.quarantine,
        "decisions": sorted(decisions, key=lambda d: d["created"]),
        "diff": diff_text,
        "diff_files": diff_files,
        "fm": {"calls": calls, "tokens": tokens, "cost": cost},
        "replays": replay_dirs(root, node_id),
    }


def replay_dirs(root: Path, node_id: int) -> list[str]:
    """The log directories `dgm replay` wrote for this node, oldest first (the last 20)."""
    base = root / "replays" / f"node-{node_id}"
    if not base.is_dir():
        return []
    dirs = sorted(p for p in base.iterdir() if p.is_dir() and not p.is_symlink())
    return [str(p.relative_to(root)) for p in dirs[-MAX_REPLAYS:]]


def safe_path(root: Path, path: str) -> Path:
    """`path` (relative to the run, or absolute) resolved, if it lies inside the run
    directory; links are followed first so none can lead out."""
    if not path:
        raise ViewError("no path given")
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = root / candidate
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        raise ViewError(f"no file '{path}' in this run") from None
    if resolved != root and root not in resolved.parents:
        raise ViewError(f"no file '{path}' in this run")
    return resolved


def log_payload(root: Path, path: str) -> dict[str, Any]:
    """A transcript's text, or the files of a log directory."""
    target = safe_path(root, path)
    rel = str(target.relative_to(root))
    if target.is_dir():
        files = sorted(str(p.relative_to(root)) for p in target.rglob("*") if p.is_file())
        return {"path": rel, "kind": "dir", "files": files[:MAX_LISTING]}
    text = target.read_text(errors="replace")
    return {
        "path": rel,
        "kind": "file",
        "text": text[:MAX_LOG_CHARS],
        "truncated": len(text) > MAX_LOG_CHARS,
    }
