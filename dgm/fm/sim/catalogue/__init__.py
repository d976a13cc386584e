"""The catalogue of real changes to the seed agent that the offline `sim` model proposes.

Each `*.toml` file here is one change: `id`, `kind` (good / harmful / broken / hack: a
reward hack the grader must catch), `title`, `description`, `problem_statement` and
`[[edits]]` of `file`, `old`, `new`, anchored on the seed agent's actual text
(`dgm/seed_agent/`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CATALOGUE_DIR = Path(__file__).parent
KINDS = ("good", "harmful", "broken", "hack")


@dataclass(frozen=True)
class Edit:
    """Replace the unique occurrence of `old` in `file` by `new`."""

    file: str
    old: str
    new: str


@dataclass(frozen=True)
class Change:
    """One catalogue entry."""

    id: str
    kind: str
    title: str
    description: str
    problem_statement: str
    edits: tuple[Edit, ...]

    def anchored_in(self, text: str) -> bool:
        """True when every edit's anchor text occurs in `text`."""
        return all(edit.old in text for edit in self.edits)


@cache
def load_catalogue() -> dict[str, Change]:
    """All changes by id, in file-name order."""
    changes: dict[str, Change] = {}
    for path in sorted(CATALOGUE_DIR.glob("*.toml")):
        data = tomllib.loads(path.read_text())
        if data.get("kind") not in KINDS:
            raise ValueError(f"{path.name}: kind must be one of {KINDS}")
        edits = tuple(Edit(e["file"], e["old"], e["new"]) for e in data["edits"])
        changes[data["id"]] = Change(
            id=data["id"],
            kind=data["kind"],
            title=data["title"],
            description=data["description"],
            problem_statement=data["problem_statement"],
            edits=edits,
        )
    return changes


def apply_change(change: Change, root: Path) -> list[str]:
    """Apply `change` to the agent source under `root`, edit by edit, as str_replace would.

    Returns the problems (an anchor missing or not unique); edits without one still apply.
    """
    problems = []
    for edit in change.edits:
        path = Path(root) / edit.file
        text = path.read_text() if path.is_file() else ""
        count = text.count(edit.old)
        if count != 1:
            problems.append(f"{edit.file}: anchor found {count} times")
            continue
        path.write_text(text.replace(edit.old, edit.new, 1))
    return problems
