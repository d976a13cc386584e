"""Record/replay cache of FM responses, keyed by a canonical hash of the request.

The key holds the model, messages, tools, sampling parameters, the session's identity
(run seed, node, task, role, attempt) and the call's index within the session, so a replayed
session gets the same answers in the same order. The stored value is the exact response body
that was sent, which makes a replay byte-for-byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from dgm.fm.errors import FMError

MODES = ("off", "record", "replay", "record_replay")


def canonical_key(
    model: str,
    messages: list,
    tools: list | None,
    params: dict,
    identity: dict,
    call_index: int,
) -> str:
    """The sha256 hex digest of the request in canonical JSON (sorted keys, no spaces)."""
    payload = {
        "model": model,
        "messages": messages,
        "tools": tools,
        "params": params,
        "identity": identity,
        "call_index": call_index,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class ResponseCache:
    """Response bodies stored as files `<dir>/<key[:2]>/<key>.json`."""

    def __init__(self, cache_dir: str | os.PathLike | None, mode: str = "off"):
        if mode not in MODES:
            raise FMError(f"unknown cache mode {mode!r} (choose from {', '.join(MODES)})")
        if mode != "off" and cache_dir is None:
            raise FMError(f"cache mode {mode!r} needs a cache directory")
        self.mode = mode
        self.dir = Path(cache_dir) if cache_dir is not None else None
        if self.dir is not None and mode != "off":
            self.dir.mkdir(parents=True, exist_ok=True)

    @property
    def reads(self) -> bool:
        return self.mode in ("replay", "record_replay")

    @property
    def writes(self) -> bool:
        return self.mode in ("record", "record_replay")

    def _path(self, key: str) -> Path:
        assert self.dir is not None
        return self.dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> bytes | None:
        """The recorded body, or None."""
        if not self.reads:
            return None
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, key: str, body: bytes) -> None:
        """Store a body atomically (concurrent sessions may write the same key)."""
        if not self.writes:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(body)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
