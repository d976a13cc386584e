"""The agent's tools: a persistent bash session and a file editor confined to the workspace.

Standard library only: this file travels with every agent variant into the sandbox.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
import uuid
from pathlib import Path

OUTPUT_LIMIT = 10_000  # characters of one tool output the model sees
COMMAND_TIMEOUT = 120  # seconds one bash command may run
VIEW_LIMIT = 2_000  # lines a single editor view shows at most

TOOL_SCHEMAS = [
    {
        "type": "function",
        "function": {
            "name": "bash",
            "description": (
                "Run a shell command in a persistent bash session whose working directory "
                "starts at the workspace. Returns the combined output and the exit code."
            ),
            "parameters": {
                "type": "object",
                "properties": {"command": {"type": "string", "description": "The command."}},
                "required": ["command"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "editor",
            "description": (
                "View, create and edit files in the workspace. `view` shows a file with line "
                "numbers (optionally `view_range` [start, end], end -1 for the end) or lists a "
                "directory; `create` writes `file_text`; `str_replace` replaces `old_str`, "
                "which must occur exactly once, with `new_str`; `insert` puts `new_str` after "
                "line `insert_line` (0 for the top)."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "command": {
                        "type": "string",
                        "enum": ["view", "create", "str_replace", "insert"],
                    },
                    "path": {"type": "string"},
                    "file_text": {"type": "string"},
                    "old_str": {"type": "string"},
                    "new_str": {"type": "string"},
                    "insert_line": {"type": "integer"},
                    "view_range": {"type": "array", "items": {"type": "integer"}},
                },
                "required": ["command", "path"],
            },
        },
    },
]


class ToolError(Exception):
    """A tool call that cannot be carried out; its message goes back to the model."""


def clip(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """Keep the head and the tail of a long text, saying how much was left out."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters clipped ...]\n{text[-half:]}"


class BashSession:
    """One bash process kept alive across commands, so `cd` and variables persist."""

    def __init__(self, workspace: Path, timeout: float = COMMAND_TIMEOUT):
        self.workspace = Path(workspace)
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        self.proc = subprocess.Popen(
            ["bash", "--norc", "--noprofile"],
            cwd=self.workspace,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # stale byte-code would hide edits made within the same second
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            start_new_session=True,  # its own process group, so a timeout kills it all
        )
        return self.proc

    def run(self, command: str) -> str:
        """Run one command; return its output (head and tail kept) and exit code."""
        proc = self.proc if self.proc and self.proc.poll() is None else self._start()
        marker = f"__dgm_done_{uuid.uuid4().hex}__"
        # stdin from /dev/null: a command must not eat the lines that follow it
        script = f"{{\n{command}\n}} < /dev/null 2>&1\nprintf '\\n{marker}%d\\n' $?\n"
        proc.stdin.write(script.encode())
        proc.stdin.flush()
        out, code = self._read_until(proc, marker)
        if code is None:
            self.close()
            return clip(out) + f"\n[command timed out after {self.timeout:g} s; shell restarted]"
        return clip(out.removesuffix("\n")) + f"\n[exit code: {code}]"

    def _read_until(self, proc: subprocess.Popen, marker: str) -> tuple[str, int | None]:
        buf = b""
        deadline = time.monotonic() + self.timeout
        fd = proc.stdout.fileno()
        token = marker.encode()
        while token not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return buf.decode(errors="replace"), None
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:  # the shell died (e.g. `exit`); the next command starts a new one
                self.close()
                return buf.decode(errors="replace") + "\n[shell exited]", -1
            buf += chunk
            if len(buf) > 4 * OUTPUT_LIMIT:  # bound memory: keep head and tail only
                buf = buf[:OUTPUT_LIMIT] + b"\n[...]\n" + buf[-2 * OUTPUT_LIMIT :]
        head, _, rest = buf.partition(token)
        digits = rest.split(b"\n", 1)[0].strip()
        return head.decode(errors="replace"), int(digits) if digits.isdigit() else -1

    def close(self) -> None:
        """Kill the shell and everything it started."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # also the group, if the shell is gone
        except OSError:
            pass
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        self.proc = None


class Editor:
    """File viewing and editing, confined to the workspace."""

    def __init__(self, workspace: Path):
        self.workspace = Path(workspace).resolve()

    def resolve(self, path: str) -> Path:
        """The absolute path of `path` (relative to the workspace); outside it: ToolError."""
        if not path:
            raise ToolError("path is required")
        target = (self.workspace / path).resolve()
        if target != self.workspace and not target.is_relative_to(self.workspace):
            raise ToolError(f"path {path} is outside the workspace")
        return target

    def run(self, args: dict) -> str:
        """Carry out one editor call; a bad call raises ToolError."""
        command = args.get("command")
        path = self.resolve(args.get("path", ""))
        if command == "view":
            return self.view(path, args.get("view_range"))
        if command == "create":
            return self.create(path, args.get("file_text"))
        if command == "str_replace":
            return self.str_replace(path, args.get("old_str"), args.get("new_str") or "")
        if command == "insert":
            return self.insert(path, args.get("insert_line"), args.get("new_str"))
        raise ToolError(f"unknown editor command {command!r}")

    def view(self, path: Path, view_range: list | None = None) -> str:
        if path.is_dir():
            entries = sorted(
                p.relative_to(path).as_posix() + ("/" if p.is_dir() else "")
                for p in path.rglob("*")
                if len(p.relative_to(path).parts) <= 2 and "__pycache__" not in p.parts
            )
            return "\n".join(entries) or "(empty directory)"
        lines = self._read(path).splitlines()
        start, end = 1, len(lines)
        if view_range:
            if len(view_range) != 2:
                raise ToolError("view_range must be [start, end]")
            start, end = int(view_range[0]), int(view_range[1])
            end = len(lines) if end == -1 else end
            if start < 1 or start > max(len(lines), 1) or end < start:
                raise ToolError(f"invalid view_range {view_range} for {len(lines)} lines")
        shown = lines[start - 1 : min(end, start - 1 + VIEW_LIMIT)]
        text = "\n".join(f"{n:6}\t{line}" for n, line in enumerate(shown, start))
        if start - 1 + len(shown) < end:
            text += f"\n[... view stopped at {VIEW_LIMIT} lines; use view_range]"
        return text or "(empty file)"

    def create(self, path: Path, file_text: str | None) -> str:
        if file_text is None:
            raise ToolError("file_text is required for create")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(file_text)
        return f"created {self._rel(path)} ({len(file_text.splitlines())} lines)"

    def str_replace(self, path: Path, old_str: str | None, new_str: str) -> str:
        if not old_str:
            raise ToolError("old_str is required for str_replace")
        text = self._read(path)
        count = text.count(old_str)
        if count == 0:
            raise ToolError(f"old_str not found in {self._rel(path)}")
        if count > 1:
            raise ToolError(f"old_str occurs {count} times in {self._rel(path)}; make it unique")
        path.write_text(text.replace(old_str, new_str, 1))
        return f"edited {self._rel(path)}"

    def insert(self, path: Path, insert_line, new_str: str | None) -> str:
        if new_str is None or insert_line is None:
            raise ToolError("insert needs insert_line and new_str")
        lines = self._read(path).splitlines(keepends=True)
        if not 0 <= int(insert_line) <= len(lines):
            raise ToolError(f"insert_line {insert_line} out of range 0..{len(lines)}")
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        new = new_str if new_str.endswith("\n") else new_str + "\n"
        lines.insert(int(insert_line), new)
        path.write_text("".join(lines))
        return f"inserted into {self._rel(path)} after line {insert_line}"

    def _read(self, path: Path) -> str:
        if not path.is_file():
            raise ToolError(f"no such file: {self._rel(path)}")
        return path.read_text(errors="replace")

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.workspace).as_posix() or "."
