"""`dgm replay`'s view: the new result of a node's agent on a task (re-run by
dgm/run/replay.py) beside the recorded one. With the run's FM cache in replay mode the new
run must reproduce the recorded transcript and outcome exactly; the comparison says whether
it did."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from dgm.run.replay import Rerun
from dgm.run.rundir import RunDir
from dgm.views.api import locate_in_run

TRANSCRIPT = "transcript.md"
# Tool output that depends on the wall clock (`ls -l` dates, times of day): the FM answers
# replay exactly, but a shell run a minute later prints other times.
CLOCK = re.compile(
    r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+\d{1,2}\s+(\d{1,2}:\d{2}|\d{4})\b"
    r"|\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\b|\b\d{1,2}:\d{2}:\d{2}\b"
)


CACHE_MISS = "replay cache miss"
CACHE_MISS_NOTE = (
    "The replay left the recorded path: one of the agent's requests differed from the "
    "recorded one, so the FM cache had no answer for it. The cache keys a request by its whole "
    "content, tool output included, so output that changes between runs (such as the clock "
    "times `ls -l` prints) ends an exact replay."
)


def without_clock(text: str) -> str:
    """The transcript with clock readings masked."""
    return CLOCK.sub("<time>", text)


@dataclass
class Replay(Rerun):
    """A re-run with both transcripts, compared."""

    original_transcript: str | None = None
    new_transcript: str = ""

    @property
    def same_outcome(self) -> bool:
        return self.original is not None and str(self.original.outcome) == str(self.new.outcome)

    @property
    def same_transcript(self) -> bool:
        return self.original_transcript is not None and (
            self.original_transcript == self.new_transcript
        )

    @property
    def identical(self) -> bool:
        return self.same_outcome and self.same_transcript

    @property
    def same_but_clock(self) -> bool:
        """Same outcome, and transcripts that differ only in clock readings."""
        return (
            self.same_outcome
            and self.original_transcript is not None
            and without_clock(self.original_transcript) == without_clock(self.new_transcript)
        )

    @property
    def reproduced(self) -> bool:
        return self.identical or self.same_but_clock


def _transcript(root: Path, log_path: str | None) -> str | None:
    path = locate_in_run(root, log_path)
    if path is None:
        return None
    path = path / TRANSCRIPT if path.is_dir() else path
    return path.read_text(errors="replace") if path.is_file() else None


def compare_replay(run: RunDir, rerun: Rerun) -> Replay:
    """The re-run (dgm/run/replay.py) beside the recorded evaluation, transcripts read."""
    root = run.root.resolve()
    original = rerun.original
    return Replay(
        rerun.node,
        rerun.task,
        rerun.mode,
        original,
        rerun.new,
        _transcript(root, original.log_path) if original else None,
        _transcript(root, rerun.new.log_path) or "",
    )


def replay_view(r: Replay) -> Group:
    table = Table(title=f"Replay of node {r.node} on {r.task} ({r.mode})", title_justify="left")
    table.add_column("")
    table.add_column("original")
    table.add_column("replay")
    o = r.original
    table.add_row("outcome", str(o.outcome) if o else "-", str(r.new.outcome))
    table.add_row("tokens", str(o.tokens) if o else "-", str(r.new.tokens))
    table.add_row("cost", f"${o.cost:.4f}" if o else "-", f"${r.new.cost:.4f}")
    table.add_row("seconds", f"{o.seconds:.1f}" if o else "-", f"{r.new.seconds:.1f}")
    table.add_row("logs", str(o.log_path) if o else "-", str(r.new.log_path))
    parts: list[Any] = [table]
    if r.mode == "cached":
        if r.identical:
            parts.append(Text("Reproduced exactly: same outcome, identical transcript.",
                              style="bold green"))  # fmt: skip
        elif r.same_but_clock:
            parts.append(Text("Reproduced: same outcome and the same transcript except for "
                              "clock readings in tool output (dates and times, shown below).",
                              style="bold green"))  # fmt: skip
        else:
            same_text = r.original_transcript is not None and without_clock(
                r.original_transcript) == without_clock(r.new_transcript)  # fmt: skip
            what = [w for w, same in (("outcome", r.same_outcome),
                                      ("transcript", same_text)) if not same]  # fmt: skip
            parts.append(Text(f"NOT reproduced: the {' and '.join(what)} differ.",
                              style="bold red"))  # fmt: skip
            if CACHE_MISS in r.new_transcript:
                parts.append(Text(CACHE_MISS_NOTE, style="yellow"))
    if r.original_transcript is not None and not r.same_transcript:
        diff = difflib.unified_diff(
            r.original_transcript.splitlines(keepends=True),
            r.new_transcript.splitlines(keepends=True), "original", "replay",
        )  # fmt: skip
        lines = list(diff)
        shown = "".join(lines[:200]) + ("[... more ...]\n" if len(lines) > 200 else "")
        parts.append(Syntax(shown, "diff", theme="ansi_dark", word_wrap=True))
    return Group(*parts)
