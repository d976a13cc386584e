"""`changes.diff`: what an agent changed in its workspace, as a unified diff bounded in host
memory and size whatever the agent left (huge files, binary files, names made to forge
lines)."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from benchmarks import Task
from benchmarks.basetree import Delta
from benchmarks.grading import MAX_BYTES as GRADE_MAX_BYTES
from benchmarks.grading import MAX_FILES as GRADE_MAX_FILES
from benchmarks.grading import workspace_files

DIFF_LIMIT = 200_000  # characters of the whole diff

# Bounds of changes.diff: difflib holds every line of both sides as objects (about 100 bytes
# of host memory per line), so a large file is named, never diffed.
DIFF_FILE_BYTES = 256 * 1024
DIFF_FILE_LINES = 5_000
_ESCAPES = {
    ord("\n"): "\\n",
    ord("\t"): "\\t",
    ord("\r"): "\\r",
    ord('"'): '\\"',
    ord("\\"): "\\\\",
}
NO_NEWLINE = "\\ No newline at end of file\n"
UNKEPT = "\0unkept"  # a base file's text that did not come back with the delta (too large)


def _quote(name: str) -> str:
    """A file name as git writes it in a diff: as is when it is printable ASCII, else in
    double quotes with C escapes (octal for other bytes)."""
    raw = os.fsencode(name)
    if all(0x20 <= b < 0x7F and b not in _ESCAPES for b in raw):
        return name
    parts = (_ESCAPES.get(b) or (chr(b) if 0x20 <= b < 0x7F else f"\\{b:03o}") for b in raw)
    return '"' + "".join(parts) + '"'


def _lines(text: str) -> list[str]:
    """Lines split at \\n only (as git does), each keeping its newline; the last may lack it."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def _side(text: str | None, path: Path | None) -> tuple[list[str] | None, str]:
    """One side's lines, or None with why it is not diffed; ([], "") when it is absent."""
    if path is not None:
        try:
            size = path.stat().st_size
            if size > DIFF_FILE_BYTES:
                return None, f"{size} bytes"
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            return None, "binary"
        except OSError as exc:
            return None, f"unreadable: {exc.strerror}"
    if text is None:
        return [], ""
    if text == UNKEPT:
        return None, "base text not kept"
    if "\0" in text:
        return None, "binary"
    if len(text) > DIFF_FILE_BYTES:
        return None, f"{len(text)} characters"
    lines = _lines(text)
    if len(lines) > DIFF_FILE_LINES:
        return None, f"{len(lines)} lines"
    return lines, ""


def _file_diff(rel: str, given: str | None, left: Path | None) -> str:
    """The diff of one file between the given text and the file the agent left."""
    old, why_old = _side(given, None)
    new, why_new = _side(None, left)
    a, b = _quote(f"a/{rel}"), _quote(f"b/{rel}")
    if old is None or new is None:
        if given is not None and left is not None and _same(given, left):
            return ""
        why = ", ".join(w for w in (why_old and f"given {why_old}", why_new) if w)
        if given is None:
            return f"File {b} added (not diffed: {why})\n"
        if left is None:
            return f"File {a} deleted (not diffed: {why})\n"
        return f"Files {a} and {b} differ (not diffed: {why})\n"
    out = []
    for line in difflib.unified_diff(old, new, a, b):
        out.append(line if line.endswith("\n") else line + "\n" + NO_NEWLINE)
    return "".join(out)


def _same(given: str, left: Path) -> bool:
    """The file the agent left is byte for byte the given one (read only when sizes match)."""
    data = given.encode()
    try:
        return left.stat().st_size == len(data) and left.read_bytes() == data
    except OSError:
        return False


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def workspace_diff(task: Task, result_dir: Path, delta: Delta | None = None) -> str:
    """A unified diff from the given files to what the agent left, bounded in memory and
    size: files over DIFF_FILE_BYTES or DIFF_FILE_LINES are named, not diffed, and the whole
    stops at DIFF_LIMIT characters. Names are quoted when they hold anything but printable
    ASCII, so a name cannot forge a line of the diff. With a base-tree task, `result_dir`
    holds the delta and `delta` the base side of the files it changed or deleted."""
    if not result_dir.is_dir():
        return "(no diff: the workspace was not copied out)\n"
    after = workspace_files(result_dir)
    size = sum(_size(p) for p in after.values())
    if len(after) > GRADE_MAX_FILES or size > GRADE_MAX_BYTES:  # as grading rejects it
        return f"(no diff: the workspace is too large: {len(after)} files, {size} bytes)\n"
    given: dict[str, str] = dict(task.files)
    if delta is not None:
        for rel in (*delta.changed, *delta.deleted):
            given.setdefault(rel, delta.base_texts.get(rel, UNKEPT))
    chunks: list[str] = []
    size = 0
    for rel in sorted(set(given) | set(after)):
        chunk = _file_diff(rel, given.get(rel), after.get(rel))
        if size + len(chunk) > DIFF_LIMIT:
            room = chunk[: max(0, DIFF_LIMIT - size)]
            chunks.append(room[: room.rfind("\n") + 1])
            chunks.append(f"[... diff cut at {DIFF_LIMIT} characters ...]\n")
            break
        chunks.append(chunk)
        size += len(chunk)
    return "".join(chunks)
