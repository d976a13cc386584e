"""The bare git repository behind an archive, driven only by plumbing commands.

Trees are built in a temporary index file (GIT_INDEX_FILE), never in a shared work tree, so
writers in threads or processes cannot collide. Commits carry a fixed identity and a date
derived from the node id: the same tree under the same parent gives the same commit id in
every run."""

from __future__ import annotations

import os
import stat
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from archive.errors import ArchiveError
from archive.models import Diff

EPOCH = 1_700_000_000  # commit dates are EPOCH + node id seconds
REF_PREFIX = "refs/nodes/"
SKIP_DIRS = {".git", "__pycache__"}  # never part of an agent's source
IDENTITY = {
    "GIT_AUTHOR_NAME": "dgm",
    "GIT_AUTHOR_EMAIL": "dgm@archive.invalid",
    "GIT_COMMITTER_NAME": "dgm",
    "GIT_COMMITTER_EMAIL": "dgm@archive.invalid",
}


class GitStore:
    """Plumbing over one bare repository."""

    def __init__(self, path: Path):
        self.path = Path(path)
        # No system or user config: their filters or autocrlf would change what is stored.
        self.env = {
            **os.environ,
            "GIT_DIR": str(self.path),
            "LC_ALL": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
        }
        self.env.pop("GIT_INDEX_FILE", None)
        self.env.pop("GIT_WORK_TREE", None)

    @classmethod
    def init(cls, path: Path) -> GitStore:
        """Create the bare repository."""
        subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True, capture_output=True)
        store = cls(path)
        # No automatic gc (keeps timings flat), no reflogs for 10,000 node refs.
        store.git("config", "gc.auto", "0")
        store.git("config", "core.logAllRefUpdates", "false")
        return store

    def git(
        self, *args: str, input: bytes | None = None, env: dict | None = None, cwd=None
    ) -> bytes:
        """Run one git command; a failure is an ArchiveError carrying git's first line."""
        proc = subprocess.run(
            ["git", *args], input=input, env=env or self.env, capture_output=True, cwd=cwd
        )
        if proc.returncode != 0:
            msg = proc.stderr.decode(errors="replace").strip().splitlines()
            first = msg[0] if msg else f"exit {proc.returncode}"
            raise ArchiveError(f"git {args[0]} failed: {first}")
        return proc.stdout

    # -- building trees ------------------------------------------------------------------
    def tree_from_dir(self, files_dir: Path) -> str:
        """The tree of a directory's files (skipping .git and __pycache__ directories).

        `update-index --add` hashes and writes the blobs itself; the directory serves as the
        work tree of this one command only."""
        root = Path(files_dir)
        if not root.is_dir():
            raise ArchiveError(f"no directory at '{files_dir}'")
        paths: list[str] = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in filenames:
                full = Path(dirpath) / name
                mode = full.lstat().st_mode
                if stat.S_ISREG(mode) or stat.S_ISLNK(mode):  # not sockets or fifos
                    paths.append(full.relative_to(root).as_posix())
        with self._temp_index() as env:
            env["GIT_WORK_TREE"] = str(root)
            listing = "".join(f"{p}\0" for p in sorted(paths)).encode()
            self.git("update-index", "--add", "-z", "--stdin", input=listing, env=env, cwd=root)
            return self.git("write-tree", env=env).decode().strip()

    @contextmanager
    def _temp_index(self) -> Iterator[dict[str, str]]:
        """An environment naming a fresh index file of our own, removed afterwards."""
        index = self.path / f"tmp-index-{uuid.uuid4().hex}"
        try:
            yield {**self.env, "GIT_INDEX_FILE": str(index)}
        finally:
            index.unlink(missing_ok=True)
            index.with_name(index.name + ".lock").unlink(missing_ok=True)

    def tree_from_diff(self, base: str, diff: str) -> str:
        """The tree of `base` (a commit or tree) with a unified diff applied."""
        if not diff.strip():
            return self.tree_of(base)
        with self._temp_index() as env:
            self.git("read-tree", base, env=env)
            text = diff if diff.endswith("\n") else diff + "\n"
            try:
                args = ("apply", "--cached", "--whitespace=nowarn", "-")
                self.git(*args, input=text.encode(), env=env)
            except ArchiveError as exc:
                raise ArchiveError(f"the diff does not apply: {exc}") from None
            return self.git("write-tree", env=env).decode().strip()

    def tree_of(self, commit: str) -> str:
        return self.git("rev-parse", f"{commit}^{{tree}}").decode().strip()

    def numstats(self, commits: list[str]) -> dict[str, tuple[int, int, int]]:
        """commit -> (files changed, lines added, lines removed) against its first parent (the
        root against the empty tree), for many commits in one `git diff-tree --stdin`."""
        if not commits:
            return {}
        stats: dict[str, list[int]] = {}
        current: list[int] = []
        feed = "".join(f"{c}\n" for c in commits).encode()
        out = self.git("diff-tree", "--stdin", "--root", "-r", "--numstat", input=feed)
        for line in out.decode(errors="replace").splitlines():
            if "\t" in line:
                added, removed, _ = line.split("\t", 2)
                current[0] += 1
                current[1] += int(added) if added.isdigit() else 0  # "-" for binary files
                current[2] += int(removed) if removed.isdigit() else 0
            elif line.strip():
                current = stats.setdefault(line.split()[0], [0, 0, 0])
        return {c: tuple(stats.get(c, (0, 0, 0))) for c in commits}

    # -- commits and refs ----------------------------------------------------------------
    def commit(self, tree: str, parent: str | None, node_id: int, message: str) -> str:
        """A commit with a fixed identity and a date derived from the node id."""
        date = f"{EPOCH + node_id} +0000"
        env = {**self.env, **IDENTITY, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        args = ["commit-tree", tree] + (["-p", parent] if parent else []) + ["-m", message]
        return self.git(*args, env=env).decode().strip()

    def set_ref(self, node_id: int, commit: str) -> None:
        self.git("update-ref", f"{REF_PREFIX}{node_id}", commit)

    def delete_ref(self, node_id: int) -> None:
        self.git("update-ref", "-d", f"{REF_PREFIX}{node_id}")

    def refs(self) -> dict[int, tuple[str, list[str]]]:
        """node id -> (commit, git parents) for every node ref."""
        fmt = "%(refname) %(objectname) %(parent)"
        out = self.git("for-each-ref", f"--format={fmt}", REF_PREFIX).decode()
        found: dict[int, tuple[str, list[str]]] = {}
        for line in out.splitlines():
            name, sha, *parents = line.split()
            suffix = name[len(REF_PREFIX) :]
            if suffix.isdigit():
                found[int(suffix)] = (sha, parents)
        return found

    def clear_stale_locks(self) -> list[str]:
        """Remove ref lock files a killed writer left behind (call only while no one writes)."""
        removed = []
        refdir = self.path / REF_PREFIX
        if refdir.is_dir():
            for lock in refdir.glob("*.lock"):
                lock.unlink(missing_ok=True)
                removed.append(lock.name)
        return removed

    def missing_objects(self, shas: list[str]) -> set[str]:
        """Which of these object ids the repository does not hold."""
        if not shas:
            return set()
        out = self.git("cat-file", "--batch-check", input="".join(f"{s}\n" for s in shas).encode())
        return {line.split()[0] for line in out.decode().splitlines() if line.endswith(" missing")}

    # -- reading -------------------------------------------------------------------------
    def materialize(self, commit: str, dest: Path) -> None:
        """Write a commit's files into `dest` (created when missing): `git archive` streamed
        into tarfile in this process (one process fewer than `| tar -x`)."""
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            ["git", "archive", "--format=tar", commit],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                tar.extractall(dest, filter="tar")  # our own commits: modes and links kept
        except tarfile.TarError:
            pass  # git's own message below says why
        finally:
            proc.stdout.close()
            err = proc.stderr.read()
            proc.stderr.close()
        if proc.wait() != 0:
            msg = err.decode(errors="replace").strip().splitlines()
            raise ArchiveError(f"materialize failed: {msg[0] if msg else 'git archive'}")

    def diff(self, old: str, new: str) -> Diff:
        """Unified diff between two commits and per-file added/removed counts."""
        text = self.git("diff", "--no-color", "--no-ext-diff", old, new).decode(errors="replace")
        return Diff(text=text, files=parse_numstat(text))


def parse_numstat(text: str) -> list[tuple[str, int, int]]:
    """(path, added, removed) per file of a git unified diff."""
    files: list[list] = []
    in_hunk = False
    for line in text.splitlines():
        if line.startswith("diff --git "):
            # "diff --git a/X b/X": take the b/ side; renames are off, so both match
            path = line.split(" b/", 1)[1] if " b/" in line else line[11:]
            files.append([path, 0, 0])
            in_hunk = False
        elif line.startswith("@@"):
            in_hunk = True
        elif in_hunk and files:
            if line.startswith("+"):
                files[-1][1] += 1
            elif line.startswith("-"):
                files[-1][2] += 1
    return [(p, a, r) for p, a, r in files]
