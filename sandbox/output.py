"""Bounded capture of a command's output: the head and the tail, never gigabytes."""

from __future__ import annotations

from collections import deque
from typing import IO

CHUNK = 65536


class BoundedStream:
    """Reads a pipe to its end keeping the first and last `keep` bytes; flags `overflowed`
    once more than `kill_after` bytes went by, so the caller can stop the writer."""

    def __init__(self, pipe: IO[bytes] | None, keep: int, kill_after: int):
        self.pipe = pipe
        self.keep = keep
        self.kill_after = kill_after
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.total = 0
        self.overflowed = False

    def pump(self) -> None:
        if self.pipe is None:
            return
        while True:
            chunk = self.pipe.read1(CHUNK) if hasattr(self.pipe, "read1") else self.pipe.read(CHUNK)
            if not chunk:
                return
            self.add(chunk)

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if self.total > self.kill_after:
            self.overflowed = True
        room = self.keep - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self.tail.append(chunk)
        self.tail_size += len(chunk)
        while self.tail_size - len(self.tail[0]) >= self.keep:
            self.tail_size -= len(self.tail.popleft())

    @property
    def truncated(self) -> bool:
        return self.total > len(self.head) + self.keep

    def text(self) -> str:
        tail = b"".join(self.tail)
        if len(tail) > self.keep:
            tail = tail[-self.keep :]
        if not self.truncated:
            return (bytes(self.head) + tail).decode("utf-8", "replace")
        dropped = self.total - len(self.head) - len(tail)
        return (
            bytes(self.head).decode("utf-8", "replace")
            + f"\n[... {dropped} bytes of output dropped ...]\n"
            + tail.decode("utf-8", "replace")
        )
