"""The bare git repository behind an archive, through GitPython and plumbing commands only.

No work tree is ever shared, so writers in threads or processes cannot collide: a directory's
files go in as objects through long-running `git hash-object -w` processes (archive.gitrepo);
a diff is applied with `git apply --cached` to a temporary index file (GIT_INDEX_FILE) read
from the parent's tree. Commits carry a fixed identity and a date derived from the node id:
the same tree under the same parent gives the same commit id in every run."""

from __future__ import annotations

import os
import stat
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from archive.errors import ArchiveError
from archive.gitrepo import ThreadRepos
from archive.models import Diff

EPOCH = 1_700_000_000  # commit dates are EPOCH + node id seconds
REF_PREFIX = "refs/nodes/"
SKIP_DIRS = {".git", "__pycache__"}  # never part of an agent's source
IDENTITY = "dgm <dgm@archive.invalid>"  # author and committer of every commit


class GitStore:
    """Plumbing over one bare repository."""

    def __init__(self, path: Path):
        self.path = Path(path)
        # GitPython adds these to the environment of every git it starts. GIT_DIR beats one
        # the caller may have set; no system or user config: their filters or autocrlf would
        # change what is stored. GIT_FLUSH: answers of the long-running processes come at once.
        self.env = {
            "GIT_DIR": str(self.path.absolute()),  # GitPython runs git inside the repository
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_FLUSH": "1",
        }
        self.repos = ThreadRepos(self.path.absolute(), self.env)

    @classmethod
    def init(cls, path: Path) -> GitStore:
        """Create the bare repository."""
        import git

        try:
            repo = git.Repo.init(path, mkdir=True, bare=True)
        except git.GitCommandError as exc:
            raise ArchiveError(f"git init failed: {_first_line(exc.stderr)}") from None
        with repo.config_writer() as config:
            config.set_value("gc", "auto", "0")  # no automatic gc: keeps timings flat
            config.set_value("core", "logAllRefUpdates", "false")  # no reflogs for node refs
        repo.close()
        return cls(path)

    def git(
        self, command: str, *args: str, stdin: IO[bytes] | None = None, env: dict | None = None
    ) -> bytes:
        """Run one git command (`command` as GitPython spells it: `diff_tree`); a failure is an
        ArchiveError carrying git's first line."""
        run = getattr(self.repos.repo().git, command)
        status, out, err = run(
            *args, istream=stdin, env=env, with_extended_output=True, with_exceptions=False,
            stdout_as_string=False, strip_newline_in_stdout=False,
        )  # fmt: skip
        if status != 0:
            name = command.replace("_", "-")
            raise ArchiveError(f"git {name} failed: {_first_line(err) or f'exit {status}'}")
        return out

    # -- building trees ------------------------------------------------------------------
    def tree_from_dir(self, files_dir: Path) -> str:
        """Write a directory's files (skipping .git and __pycache__) as blobs and trees through
        the long-running hash-object processes; returns the root tree id."""
        root = Path(files_dir).absolute()  # git runs in the repository, not in our directory
        if not root.is_dir():
            raise ArchiveError(f"no directory at '{files_dir}'")
        files: list[tuple[str, str, Path]] = []  # (relative path, mode, full path)
        links: list[tuple[str, bytes]] = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
            for name in filenames:
                full = Path(dirpath) / name
                rel = full.relative_to(root).as_posix()
                st = full.lstat()
                if stat.S_ISLNK(st.st_mode):
                    links.append((rel, os.readlink(full).encode()))
                elif stat.S_ISREG(st.st_mode):  # not sockets or fifos
                    files.append((rel, "100755" if st.st_mode & 0o111 else "100644", full))
        shas = self.repos.write_files([full for _, _, full in files])
        entries = {rel: (mode, sha) for (rel, mode, _), sha in zip(files, shas, strict=True)}
        for rel, target in links:
            entries[rel] = ("120000", self.repos.write_object("blob", target))
        return self._write_trees(entries)

    def _write_trees(self, entries: dict[str, tuple[str, str]]) -> str:
        """Write the tree objects holding these (path -> mode, blob) entries, deepest first."""
        dirs: dict[str, dict[str, tuple[str, str]]] = {"": {}}
        for path, entry in entries.items():
            parent, _, name = path.rpartition("/")
            dirs.setdefault(parent, {})[name] = entry
            while parent:  # make sure every ancestor directory is listed
                up, _, _ = parent.rpartition("/")
                dirs.setdefault(up, {})
                parent = up
        for d in sorted(dirs, key=lambda p: p.count("/") + bool(p), reverse=True):
            if not d:
                continue
            up, _, name = d.rpartition("/")
            dirs[up][name] = ("40000", self._write_tree(dirs[d]))
        return self._write_tree(dirs[""])

    def _write_tree(self, items: dict[str, tuple[str, str]]) -> str:
        # git orders a directory's entries by name, a subtree's name compared as "name/".
        def order(name: str) -> bytes:
            return (name + "/" if items[name][0] == "40000" else name).encode()

        body = b"".join(
            f"{items[n][0]} {n}".encode() + b"\0" + bytes.fromhex(items[n][1])
            for n in sorted(items, key=order)
        )
        return self.repos.write_object("tree", body)

    @contextmanager
    def _temp_index(self) -> Iterator[dict[str, str]]:
        """An environment naming a fresh index file of our own, removed afterwards."""
        index = Path(tempfile.gettempdir()) / f"dgm-index-{uuid.uuid4().hex}"
        try:
            yield {"GIT_INDEX_FILE": str(index)}
        finally:
            index.unlink(missing_ok=True)
            index.with_name(index.name + ".lock").unlink(missing_ok=True)

    def tree_from_diff(self, base: str, diff: str) -> str:
        """The tree `base` with a unified diff applied (through a temporary index file)."""
        if not diff.strip():
            return base
        with self._temp_index() as env:
            self.git("read_tree", base, env=env)
            text = diff if diff.endswith("\n") else diff + "\n"
            try:
                with _stdin(text.encode()) as stdin:
                    self.git("apply", "--cached", "--whitespace=nowarn", "-", stdin=stdin, env=env)
            except ArchiveError as exc:
                raise ArchiveError(f"the diff does not apply: {exc}") from None
            return self.git("write_tree", env=env).decode().strip()

    def numstats(self, commits: list[str]) -> dict[str, tuple[int, int, int]]:
        """commit -> (files changed, lines added, lines removed) against its first parent (the
        root against the empty tree), for many commits in one `git diff-tree --stdin`."""
        if not commits:
            return {}
        stats: dict[str, list[int]] = {}
        current: list[int] = []
        with _stdin("".join(f"{c}\n" for c in commits).encode()) as stdin:
            out = self.git("diff_tree", "--stdin", "--root", "-r", "--numstat", stdin=stdin)
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
        """A commit with a fixed identity and a date derived from the node id (byte for byte
        what `git commit-tree` makes of the same input)."""
        who = f"{IDENTITY} {EPOCH + node_id}"
        text = f"tree {tree}\n" + (f"parent {parent}\n" if parent else "")
        text += f"author {who} +0000\ncommitter {who} +0000\n\n{message}\n"
        return self.repos.write_object("commit", text.encode())

    def set_ref(self, node_id: int, commit: str) -> None:
        self.repos.update_ref(f"{REF_PREFIX}{node_id}", commit)

    def delete_ref(self, node_id: int) -> None:
        self.repos.update_ref(f"{REF_PREFIX}{node_id}", None)

    def close(self) -> None:
        """End the long-running git processes (of every thread) and close the repositories."""
        self.repos.close()

    def refs(self) -> dict[int, tuple[str, list[str]]]:
        """node id -> (commit, git parents) for every node ref."""
        fmt = "%(refname) %(objectname) %(parent)"
        out = self.git("for_each_ref", f"--format={fmt}", REF_PREFIX).decode()
        found: dict[int, tuple[str, list[str]]] = {}
        for line in out.splitlines():
            name, sha, *parents = line.split()
            suffix = name[len(REF_PREFIX) :]
            if suffix.isdigit():
                found[int(suffix)] = (sha, parents)
        return found

    def existing_refs(self, node_ids: Iterable[int]) -> list[int]:
        """Which of these node ids have a ref."""
        names = [f"{REF_PREFIX}{n}" for n in node_ids]
        out = self.git("for_each_ref", "--format=%(refname)", *names).decode()
        return sorted(int(line[len(REF_PREFIX) :]) for line in out.split())

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
        return self.repos.missing(shas)

    # -- reading -------------------------------------------------------------------------
    def materialize(self, tree: str, dest: Path) -> None:
        """Write a tree's files into `dest` (created when missing), reading the objects through
        the long-running `git cat-file --batch` process."""
        todo = [(tree, Path(dest))]
        while todo:
            sha, where = todo.pop()
            where.mkdir(parents=True, exist_ok=True)
            entries = parse_tree(self.repos.read_objects([sha])[0])
            blobs = [e for e in entries if e[0] != "40000" and e[0] != "160000"]
            contents = self.repos.read_objects([e[2] for e in blobs])
            for (mode, name, _), data in zip(blobs, contents, strict=True):
                path = where / name
                if mode == "120000":
                    path.unlink(missing_ok=True)
                    path.symlink_to(os.fsdecode(data))
                else:
                    path.write_bytes(data)
                    path.chmod(0o755 if mode == "100755" else 0o644)
            todo += [(s, where / n) for m, n, s in entries if m == "40000"]

    def diff(self, old: str, new: str) -> Diff:
        """Unified diff between two commits and per-file added/removed counts."""
        # Plumbing diff-tree: no rename detection (porcelain `git diff` has it on by default).
        out = self.git("diff_tree", "-r", "-p", "--no-renames", "--no-color", old, new)
        text = out.decode(errors="replace")
        return Diff(text=text, files=parse_numstat(text))


def _first_line(text: str | bytes | None) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = (text or "").strip().splitlines()
    return lines[0].strip() if lines else ""


@contextmanager
def _stdin(data: bytes) -> Iterator[IO[bytes]]:
    """`data` in an unnamed temporary file: GitPython hands a command's stdin to Popen, which
    needs a real file."""
    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.seek(0)
        yield f


def parse_tree(body: bytes) -> list[tuple[str, str, str]]:
    """(mode, name, sha) of each entry of a raw tree object; refuses names that could leave
    the destination directory."""
    entries = []
    at = 0
    while at < len(body):
        space = body.index(b" ", at)
        nul = body.index(b"\0", space)
        mode, name = body[at:space].decode(), os.fsdecode(body[space + 1 : nul])
        if name in ("", ".", "..") or "/" in name:
            raise ArchiveError(f"refusing a tree entry named {name!r}")
        entries.append((mode, name, body[nul + 1 : nul + 21].hex()))
        at = nul + 21
    return entries


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
