"""Long-running git plumbing processes, one set per thread and process.

Starting a git process costs 2-6 ms here (more under load); an add_child that spawned four of
them cost 12-30 ms. These pipes write objects with `git hash-object -w --stdin-paths` (git
validates trees and commits as it writes them) and move refs with `git update-ref --stdin`
transactions, at about 0.1 ms a request."""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import uuid
import weakref
from pathlib import Path

from archive.errors import ArchiveError

BATCH = 256  # paths per round trip: keeps both pipes far below their buffer size


class _Pipe:
    """One git process reading requests on stdin and answering one line each."""

    def __init__(self, args: list[str], env: dict[str, str]):
        self.args = args
        self.proc = subprocess.Popen(
            ["git", *args],
            env={**env, "GIT_FLUSH": "1"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def ask(self, text: str, answers: int) -> list[str]:
        """Send `text`, read `answers` lines; a dead process becomes an ArchiveError."""
        try:
            self.proc.stdin.write(text.encode())
            self.proc.stdin.flush()
            lines = [self.proc.stdout.readline().decode() for _ in range(answers)]
        except BrokenPipeError:
            lines = [""]
        if any(not line.endswith("\n") for line in lines):
            self.close()
            err = self.proc.stderr.read().decode(errors="replace").strip().splitlines()
            raise ArchiveError(f"git {self.args[0]} failed: {err[0] if err else 'it exited'}")
        return [line.rstrip("\n") for line in lines]

    def read_batch(self, shas: list[str]) -> list[bytes]:
        """`cat-file --batch` answers: a header line, then exactly `size` bytes and a newline."""
        stdout = self.proc.stdout
        try:
            self.proc.stdin.write("".join(f"{s}\n" for s in shas).encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise ArchiveError("git cat-file exited") from None
        contents = []
        for sha in shas:
            header = stdout.readline().decode().split()
            if len(header) != 3:
                self.close()
                raise ArchiveError(f"object {sha[:12]} is missing from git")
            contents.append(stdout.read(int(header[2])))
            stdout.read(1)
        return contents

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            self.proc.wait()


class GitPipes:
    """Object and ref writers for one repository; each thread (and process) gets its own."""

    def __init__(self, git_dir: Path, env: dict[str, str]):
        self.git_dir = Path(git_dir)
        self.env = env
        self._local = threading.local()
        self._all: list[_Pipe] = []
        self._lock = threading.Lock()

    def _pipe(self, name: str, args: list[str]) -> _Pipe:
        pipes = getattr(self._local, "pipes", None)
        if pipes is None or self._local.pid != os.getpid():  # a forked child starts afresh
            pipes = self._local.pipes = {}
            self._local.pid = os.getpid()
        pipe = pipes.get(name)
        if pipe is None or pipe.proc.poll() is not None:
            pipe = pipes[name] = _Pipe(args, self.env)
            with self._lock:
                self._all = [p for p in self._all if p.proc.poll() is None]
                self._all.append(pipe)
            # A thread that ends takes its processes with it (when its Thread is collected).
            weakref.finalize(threading.current_thread(), pipe.close)
        return pipe

    def _scratch(self) -> Path:
        """A file of this thread's own for object contents handed to hash-object."""
        path = getattr(self._local, "scratch", None)
        if path is None or self._local.pid != os.getpid():
            path = Path(tempfile.gettempdir()) / f"dgm-object-{uuid.uuid4().hex}"
            self._local.scratch = path
        return path

    def write_files(self, paths: list[Path]) -> list[str]:
        """Blob ids of these regular files, written into the repository."""
        pipe = self._pipe("blob", ["hash-object", "-w", "--no-filters", "--stdin-paths"])
        shas: list[str] = []
        for at in range(0, len(paths), BATCH):
            chunk = paths[at : at + BATCH]
            shas += pipe.ask("".join(f"{p}\n" for p in chunk), len(chunk))
        return shas

    def write_object(self, kind: str, data: bytes) -> str:
        """Write one object ('blob', 'tree' or 'commit') from its content; returns its id."""
        pipe = self._pipe(kind, ["hash-object", "-w", "-t", kind, "--stdin-paths"])
        scratch = self._scratch()
        scratch.write_bytes(data)
        try:
            return pipe.ask(f"{scratch}\n", 1)[0]
        finally:
            scratch.unlink(missing_ok=True)

    def read_objects(self, shas: list[str]) -> list[bytes]:
        """The contents of these objects, through one `git cat-file --batch` process."""
        pipe = self._pipe("cat", ["cat-file", "--batch"])
        out: list[bytes] = []
        for at in range(0, len(shas), BATCH):
            chunk = shas[at : at + BATCH]
            out += pipe.read_batch(chunk)
        return out

    def update_ref(self, ref: str, new: str | None) -> None:
        """Point `ref` at `new` (None deletes it) in one atomic transaction."""
        pipe = self._pipe("refs", ["update-ref", "--stdin"])
        op = f"update {ref} {new}" if new else f"delete {ref}"
        pipe.ask(f"start\n{op}\nprepare\ncommit\n", 3)

    def close(self) -> None:
        """End every process this object started (any thread)."""
        with self._lock:
            pipes, self._all = self._all, []
        for pipe in pipes:
            pipe.close()
