"""The archive's bare repository through GitPython: one `git.Repo` per thread and process, and
the long-running git processes each one keeps.

GitPython objects are not thread-safe (its maintainers: one `Repo` per thread), so every
thread, and a forked child, opens its own. Through it start the long-running plumbing
processes (`repo.git.<command>(..., as_process=True)`; GitPython terminates them when they
are collected): `hash-object -w --stdin-paths` writes objects (git validates trees and
commits as it writes them), `update-ref --stdin` moves refs in atomic transactions, and
`cat-file --batch` / `--batch-check` read, many objects per round trip. Starting a git
process costs 2-6 ms here; a request to a running one about 0.1 ms.

GitPython's per-object readers (`repo.odb.stream`, `repo.git.get_object_data`, `Tree`
objects) make one round trip per object and its writers are slower still (gitdb's loose
writer in Python, `GitCmdObjectDB.store` a process per object): `perf/archive_bench.py
--objects` prints the figures that keep the batched requests."""

from __future__ import annotations

import os
import tempfile
import threading
import uuid
import weakref
from pathlib import Path
from subprocess import PIPE
from typing import TYPE_CHECKING, Any

from archive.errors import ArchiveError

if TYPE_CHECKING:
    import git
    from git.cmd import Git

BATCH = 256  # requests per round trip: keeps both pipes far below their buffer size


class GitProcess:
    """One long-running git process reading requests on stdin, answering each in turn."""

    def __init__(self, handle: Git.AutoInterrupt):
        self.handle = handle  # GitPython's AutoInterrupt: ends the process when collected
        self.proc = handle.proc
        self.name = str(handle.args[1]) if len(handle.args) > 1 else "git"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def ask(self, text: str, answers: int) -> list[str]:
        """Send `text`, read `answers` lines; a dead process becomes an ArchiveError."""
        try:
            self.proc.stdin.write(text.encode())
            self.proc.stdin.flush()
            lines = [self.proc.stdout.readline().decode() for _ in range(answers)]
        except (BrokenPipeError, ValueError):  # ValueError: closed by another thread's close()
            lines = [""]
        if any(not line.endswith("\n") for line in lines):
            raise ArchiveError(f"git {self.name} failed: {self._last_words()}")
        return [line.rstrip("\n") for line in lines]

    def read_batch(self, shas: list[str]) -> list[bytes]:
        """`cat-file --batch` answers: a header line, then exactly `size` bytes and a newline."""
        stdout = self.proc.stdout
        try:
            self.proc.stdin.write("".join(f"{s}\n" for s in shas).encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise ArchiveError(f"git {self.name} failed: {self._last_words()}") from None
        contents = []
        for sha in shas:
            header = stdout.readline().decode().split()
            if len(header) != 3:
                self.kill()  # the rest of the batch's answers would be read as the next's
                raise ArchiveError(f"object {sha[:12]} is missing from git")
            contents.append(stdout.read(int(header[2])))
            stdout.read(1)
        return contents

    def _last_words(self) -> str:
        self.kill()
        try:
            err = self.proc.stderr.read().decode(errors="replace").strip().splitlines()
        except ValueError:  # stderr closed already
            err = []
        return err[0] if err else "it exited"

    def kill(self) -> None:
        """End at once: a process that failed may still be writing answers nobody reads."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        """Close stdin and wait: every request sent has been answered, so git ends cleanly."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except (BrokenPipeError, ValueError):
                pass
            self.proc.wait()


class _ThreadRepo:
    """What one thread of one process holds: its `Repo` and its long-running processes."""

    def __init__(self, repo: git.Repo):
        self.repo = repo
        self.pid = os.getpid()
        self.procs: dict[str, GitProcess] = {}
        self.scratch = Path(tempfile.gettempdir()) / f"dgm-object-{uuid.uuid4().hex}"

    def close(self) -> None:
        procs, self.procs = list(self.procs.values()), {}
        for proc in procs:
            proc.close()
        self.repo.close()  # GitPython's own persistent cat-file processes, if any


class ThreadRepos:
    """A GitPython `Repo` of the bare repository at `git_dir` for each thread (and process),
    with its long-running object and ref processes."""

    def __init__(self, git_dir: Path, env: dict[str, str]):
        self.git_dir = Path(git_dir)
        self.env = env  # added to the environment of every git this repository starts
        self._local = threading.local()
        # Weak: a dropped archive's processes end when GitPython's handles are collected.
        self._open: weakref.WeakSet[_ThreadRepo] = weakref.WeakSet()
        self._lock = threading.Lock()

    def _state(self) -> _ThreadRepo:
        state: _ThreadRepo | None = getattr(self._local, "state", None)
        if state is None or state.pid != os.getpid():  # a forked child starts afresh
            import git  # 0.1 s to import: only once the repository is used

            try:
                repo = git.Repo(self.git_dir)
            except (git.InvalidGitRepositoryError, git.NoSuchPathError):
                raise ArchiveError(f"'{self.git_dir}' is not a git repository") from None
            repo.git.update_environment(**self.env)
            state = self._local.state = _ThreadRepo(repo)
            with self._lock:
                self._open.add(state)
            # A thread that ends takes its processes with it (when its Thread is collected).
            weakref.finalize(threading.current_thread(), _close_if_alive, weakref.ref(state))
        return state

    def repo(self) -> git.Repo:
        """This thread's `Repo`."""
        return self._state().repo

    def process(self, name: str) -> GitProcess:
        """This thread's long-running process `name` (see PROCESSES), started when needed."""
        state = self._state()
        proc = state.procs.get(name)
        if proc is None or not proc.alive():
            command, args = PROCESSES[name]
            handle = getattr(state.repo.git, command)(*args, as_process=True, istream=PIPE)
            proc = state.procs[name] = GitProcess(handle)
        return proc

    def scratch(self) -> Path:
        """A file of this thread's own for object contents handed to hash-object."""
        return self._state().scratch

    def write_files(self, paths: list[Path]) -> list[str]:
        """Blob ids of these regular files, written into the repository."""
        proc = self.process("files")
        shas: list[str] = []
        for at in range(0, len(paths), BATCH):
            chunk = paths[at : at + BATCH]
            # absolute: git runs inside the repository, not in the caller's directory
            shas += proc.ask("".join(f"{p.absolute()}\n" for p in chunk), len(chunk))
        return shas

    def write_object(self, kind: str, data: bytes) -> str:
        """Write one object ('blob', 'tree' or 'commit') from its content; returns its id."""
        proc = self.process(kind)
        scratch = self.scratch()
        scratch.write_bytes(data)
        try:
            return proc.ask(f"{scratch}\n", 1)[0]
        finally:
            scratch.unlink(missing_ok=True)

    def read_objects(self, shas: list[str]) -> list[bytes]:
        """The contents of these objects, through this thread's `git cat-file --batch`."""
        proc = self.process("cat")
        out: list[bytes] = []
        for at in range(0, len(shas), BATCH):
            out += proc.read_batch(shas[at : at + BATCH])
        return out

    def update_ref(self, ref: str, new: str | None) -> None:
        """Point `ref` at `new` (None deletes it) in one atomic transaction."""
        op = f"update {ref} {new}" if new else f"delete {ref}"
        self.process("refs").ask(f"start\n{op}\nprepare\ncommit\n", 3)

    def missing(self, shas: list[str]) -> set[str]:
        """Which of these object ids the repository does not hold."""
        proc = self.process("check")  # answers "<sha> <type> <size>" or "<sha> missing"
        lines: list[str] = []
        for at in range(0, len(shas), BATCH):
            chunk = shas[at : at + BATCH]
            lines += proc.ask("".join(f"{s}\n" for s in chunk), len(chunk))
        return {line.split()[0] for line in lines if line.endswith(" missing")}

    def running(self) -> list[Any]:
        """The Popen of every long-running process this object started (any thread)."""
        with self._lock:
            states = [s for s in self._open if s.pid == os.getpid()]
        return [p.proc for s in states for p in list(s.procs.values())]

    def close(self) -> None:
        """End every process this object started (any thread of this process)."""
        with self._lock:
            states = [s for s in self._open if s.pid == os.getpid()]
        for state in states:
            state.close()


def _close_if_alive(ref: weakref.ref[_ThreadRepo]) -> None:
    state = ref()
    if state is not None:
        state.close()


# name -> (git command, arguments) of the long-running processes
PROCESSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "files": ("hash_object", ("-w", "--no-filters", "--stdin-paths")),
    **{
        kind: ("hash_object", ("-w", "--no-filters", "-t", kind, "--stdin-paths"))
        for kind in ("blob", "tree", "commit")
    },
    "refs": ("update_ref", ("--stdin",)),
    "cat": ("cat_file", ("--batch",)),
    "check": ("cat_file", ("--batch-check",)),
}
