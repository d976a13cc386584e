"""Tar streams into and out of containers. Unpacking trusts nothing: only regular files and
directories, only inside the destination, never a link, device or `..` path."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from pathlib import Path, PurePosixPath

from sandbox.config import UID
from sandbox.errors import LimitExceeded


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


def unpack(data: bytes, dest: Path) -> list[str]:
    """Extract a tar into `dest`; return the names refused (links, devices, escapes)."""
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    refused: list[str] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar:
            rel = safe_name(member.name)
            if rel == PurePosixPath("."):
                continue
            if rel is not None and member.islnk():
                if not _copy_hard_link(root, rel, member.linkname):
                    refused.append(member.name)
                continue
            if rel is None or not (member.isreg() or member.isdir()):
                refused.append(member.name)
                continue
            target = root / rel
            # A directory made earlier in this archive cannot be a link (links are refused),
            # but dest may already hold one: check the resolved parent stays inside.
            if not target.parent.resolve().is_relative_to(root):
                refused.append(member.name)
                continue
            if member.isdir():
                if target.is_symlink() or (target.exists() and not target.is_dir()):
                    refused.append(member.name)
                    continue
                target.mkdir(parents=True, exist_ok=True)
                continue
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
    return refused


def _copy_hard_link(root: Path, rel: PurePosixPath, linkname: str) -> bool:
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
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return True
