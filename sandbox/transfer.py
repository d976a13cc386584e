"""Tar streams into and out of containers. Unpacking trusts nothing: only regular files and
directories, only inside the destination, never a link, device or `..` path.

Copy-out packs inside the container with `sandbox/packer.py`, which never fails on what an
agent left (unreadable or changing files, trees too deep for the host): such entries are
skipped and reported in a `CopyReport`, so the caller can put the fault on the agent.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sandbox.config import UID
from sandbox.errors import LimitExceeded

PACKER = (Path(__file__).parent / "packer.py").read_text()
# Bounds on what a copy-out brings to the host. The host's PATH_MAX (4096) must hold the
# destination's own path too, and deep trees make recursive walks (rglob, rmtree) fail.
MAX_PATH = 1024  # bytes of a path relative to the copied directory
MAX_DEPTH = 64  # directory levels
MAX_ENTRIES = 100_000  # files, directories and links in one copy-out
SPOOL_MEMORY = 8 * 2**20  # bytes of a copy-out stream held in memory; the rest goes to disk
# Errors of the host itself (not of a member's name or shape): the environment failed.
HOST_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.ENOMEM}


@dataclass(frozen=True)
class Skipped:
    """One entry a copy-out did not bring over, and why."""

    name: str
    why: str
    lost: bool
    """Content that exists but could not be copied (unreadable, path too long, changed):
    the copy is incomplete. False for what is never copied (links, fifos, sockets)."""


class CopyReport(list):
    """The names a copy-out skipped (a list of str, as `copy_out` always returned), with the
    reason for each in `skipped`."""

    def __init__(self, skipped=()):
        self.skipped: list[Skipped] = list(skipped)
        self.uncounted = 0  # skipped entries the packer only counted, without names
        self.note = ""  # what is known of them
        super().__init__(s.name for s in self.skipped)

    def add(self, item: Skipped) -> None:
        self.skipped.append(item)
        self.append(item.name)

    @property
    def lost(self) -> list[Skipped]:
        return [s for s in self.skipped if s.lost]

    @property
    def refused(self) -> list[Skipped]:
        return [s for s in self.skipped if not s.lost]

    @property
    def incomplete(self) -> bool:
        """Some content of the sandbox is missing from the copy."""
        return bool(self.lost) or self.uncounted > 0

    def under(self, top: str) -> CopyReport:
        """The entries under stream directory `top` (e.g. "work" of `copy_out_many`), named
        relative to it; entries only counted are kept as counted."""
        prefix = top.strip("/") + "/"
        inside = [s for s in self.skipped if s.name == prefix[:-1] or s.name.startswith(prefix)]
        report = CopyReport(Skipped(s.name.removeprefix(prefix), s.why, s.lost) for s in inside)
        report.uncounted, report.note = self.uncounted, self.note  # unnamed: may be anywhere
        return report

    def merge(self, other: CopyReport) -> CopyReport:
        """This report with `other`'s entries added (the packer's, then the unpacker's)."""
        for item in other.skipped:
            self.add(item)
        self.uncounted += other.uncounted
        self.note = self.note or other.note
        return self

    def describe(self, lost: bool = True, limit: int = 5) -> str:
        """One line naming the first `limit` skipped entries of a kind (names quoted)."""
        items = self.lost if lost else self.refused
        more = max(0, len(items) - limit) + (self.uncounted if lost else 0)
        text = ", ".join(f"{_short(s.name)!r} ({s.why})" for s in items[:limit])
        if more > 0:
            noun = "entry" if more == 1 else "entries"
            text += f" and {more} more" if text else f"{more} {noun} ({self.note or 'unnamed'})"
        return text


class Spool:
    """A copy-out's tar stream as it arrives (the `add`/`overflowed` of a BoundedStream):
    in memory up to SPOOL_MEMORY, then in a temporary file, so host memory stays small
    whatever the workspace holds. Past `limit` bytes it stops keeping and overflows."""

    def __init__(self, limit: int):
        # closed by __exit__: a Spool is used as a context manager
        self.file = tempfile.SpooledTemporaryFile(SPOOL_MEMORY, prefix="dgm-copy-")  # noqa: SIM115
        self.limit, self.total, self.overflowed = limit, 0, False

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if self.total > self.limit:
            self.overflowed = True
            return
        self.file.write(chunk)

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()


def _short(name: str, keep: int = 80) -> str:
    return name if len(name) <= keep else f"{name[: keep // 2]}...{name[-keep // 2 :]}"


def packer_argv(pairs: list[tuple[str, str]]) -> list[str]:
    """The command that packs container directories: (absolute dir, name in the stream)."""
    argv = ["python3", "-I", "-S", "-c", PACKER, str(MAX_PATH), str(MAX_DEPTH), str(MAX_ENTRIES)]
    for src, name in pairs:
        argv += [src, name]
    return argv


def packer_report(stderr: str) -> CopyReport:
    """The packer's report (the last line of its stderr). One that cannot be read counts
    as content lost: a copy is complete only when the packer says so."""
    lines = stderr.strip().splitlines()
    try:
        data = json.loads(lines[-1])
        report = CopyReport(Skipped(str(n), str(w), bool(lost)) for n, w, lost in data["skipped"])
        report.uncounted = int(data["more"])
    except (ValueError, KeyError, TypeError, IndexError):
        report = CopyReport()
        report.uncounted, report.note = 1, "the packer's report is unreadable"
    return report


def pack(src: Path, limit: int) -> bytes:
    """A tar of the contents of directory `src` (symlinks stored as links, not followed),
    owned by the sandbox user."""
    if not src.is_dir():
        raise FileNotFoundError(f"not a directory: {src}")
    buf = io.BytesIO()
    size = 0

    def owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = UID
        info.uname = info.gname = ""
        return info

    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in sorted(src.rglob("*")):
            size += path.lstat().st_size if path.is_file() else 0
            if size > limit:
                raise LimitExceeded(f"{src} exceeds the transfer limit of {limit >> 20} MB")
            tar.add(path, arcname=str(path.relative_to(src)), recursive=False, filter=owned)
    return buf.getvalue()


def safe_name(name: str) -> PurePosixPath | None:
    """The member's relative path, or None when it is absolute or climbs out."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        return None
    parts = [p for p in path.parts if p not in ("", ".")]
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def unpack(data: bytes | Spool, dest: Path, limit: int | None = None) -> CopyReport:
    """Extract a tar into `dest`; report what was not extracted (links, devices, escapes,
    names too long or too deep for the host). More than `limit` bytes written (hard links
    are copies) raises LimitExceeded."""
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    report = CopyReport()
    written = [0, limit]
    if isinstance(data, Spool):
        stream = data.file
        stream.seek(0)
    else:
        stream = io.BytesIO(data)
    with tarfile.open(fileobj=stream, mode="r:") as tar:
        for member in tar:
            rel = safe_name(member.name)
            if rel == PurePosixPath("."):
                continue
            if rel is not None and _too_long(rel):
                report.add(Skipped(member.name, "path too long", True))
                continue
            try:
                why = _extract(tar, member, rel, root, written)
            except OSError as exc:
                if exc.errno in HOST_ERRNOS:
                    raise
                why = f"could not be written: {exc.strerror}"
                report.add(Skipped(member.name, why, True))
                continue
            if why:
                report.add(Skipped(member.name, why, False))
    return report


def _too_long(rel: PurePosixPath) -> bool:
    return len(os.fsencode(str(rel))) > MAX_PATH or len(rel.parts) > MAX_DEPTH


def _extract(tar, member, rel, root: Path, written: list) -> str | None:
    """Extract one member; why it was refused, or None."""
    if rel is not None and member.islnk():
        if not _copy_hard_link(root, rel, member.linkname, written):
            return "hard link to a file outside the copy"
        return None
    if rel is None:
        return "path outside the destination"
    if not (member.isreg() or member.isdir()):
        return "link" if member.issym() else "special file"
    target = root / rel
    # A directory made earlier in this archive cannot be a link (links are refused),
    # but dest may already hold one: check the resolved parent stays inside.
    if not target.parent.resolve().is_relative_to(root):
        return "path outside the destination"
    if member.isdir():
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            return "directory over an existing file"
        target.mkdir(parents=True, exist_ok=True)
        return None
    _count(written, member.size)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.is_dir():
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
    src = tar.extractfile(member)
    assert src is not None
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(src, out)
    os.chmod(target, 0o755 if member.mode & 0o111 else 0o644)
    return None


def _count(written: list, size: int) -> None:
    """Add to the bytes written; past the limit, the copy is rejected as too large."""
    written[0] += size
    if written[1] is not None and written[0] > written[1]:
        raise LimitExceeded(f"copy out exceeds {written[1] >> 20} MB")


def _copy_hard_link(root: Path, rel: PurePosixPath, linkname: str, written: list) -> bool:
    """A hard link inside the archive becomes a copy of a file already unpacked in `root`."""
    source_rel = safe_name(linkname)
    if source_rel is None:
        return False
    source, target = root / source_rel, root / rel
    if source.is_symlink() or not source.is_file() or target.is_symlink():
        return False
    if not source.resolve().is_relative_to(root):
        return False
    if not target.parent.resolve().is_relative_to(root):
        return False
    _count(written, source.stat().st_size)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return True
