"""Self-modification: choose an entry, diagnose it, let the parent agent edit its own source.

The parent's own code does the editing (Darwin Gödel Machine style): it runs in a sandbox on a
copy of its source with a problem statement built from the diagnosis. With `meta = "agent"`
the parent's own `improve` command runs instead, handed its evaluation evidence.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any, Protocol

import numpy as np

PROMPTS = Path(__file__).parent / "prompts"
SOURCE_CHARS = 24_000  # how much agent source the diagnosis sees
TRANSCRIPT_CHARS = 8_000  # how much of a failing transcript it sees
CAP_MARKER = re.compile(r"step cap|context (limit|cap)", re.IGNORECASE)


def template(name: str) -> Template:
    return Template((PROMPTS / name).read_text())


@dataclass(frozen=True)
class Entry:
    """What a self-modification aims at."""

    kind: str  # failed_task | empty | stochasticity | step_cap | general
    task: str | None = None

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.task}" if self.task else self.kind

    def weakness(self) -> str:
        return {
            "failed_task": f"The agent failed task {self.task}.",
            "empty": "The agent often finishes without changing anything (empty answers).",
            "stochasticity": "The agent's results are inconsistent on the same task.",
            "step_cap": "The agent runs out of steps or context before it finishes.",
            "general": "The agent has no evaluations yet; make it more reliable in general.",
        }[self.kind]


class EntryWeights(Protocol):
    """The weights of each entry (a run's `[entries]`, `dgm.run.config.EntryWeights`)."""

    empty: float
    stochasticity: float
    step_cap: float
    failed_task: float


def choose_entry(evals: list[Any], weights: EntryWeights, rng: np.random.Generator) -> Entry:
    """Pick an entry from a parent's evaluation records (DGM paper's scheme, configurable).

    General weaknesses compete with one failed task drawn at random; each is a candidate only
    when the records show it.
    """
    failed = sorted({e.task for e in evals if e.outcome != "resolved"})
    if not evals:
        return Entry("general")
    by_task: dict[str, set[str]] = {}
    for e in evals:
        by_task.setdefault(e.task, set()).add(e.outcome)
    candidates: list[tuple[float, Entry]] = []
    if any(e.outcome == "empty" for e in evals):
        candidates.append((weights.empty, Entry("empty")))
    if any(len(o) > 1 and "resolved" in o for o in by_task.values()):
        candidates.append((weights.stochasticity, Entry("stochasticity")))
    if any(_hit_cap(e) for e in evals):
        candidates.append((weights.step_cap, Entry("step_cap")))
    if failed:
        task = failed[int(rng.integers(len(failed)))]
        candidates.append((weights.failed_task, Entry("failed_task", task)))
    candidates = [(w, e) for w, e in candidates if w > 0]
    if not candidates:
        return Entry("general")
    p = np.array([w for w, _ in candidates], dtype=float)
    return candidates[int(rng.choice(len(candidates), p=p / p.sum()))][1]


def _hit_cap(evaluation: Any) -> bool:
    log = getattr(evaluation, "log_path", None)
    if not log or not Path(log).is_file():
        return False
    return bool(CAP_MARKER.search(_tail(Path(log), 4000)))


def _tail(path: Path, chars: int) -> str:
    text = path.read_text(errors="replace")
    return text if len(text) <= chars else "...\n" + text[-chars:]


def clip(text: str, chars: int) -> str:
    """Keep the head and the tail of a long text."""
    if len(text) <= chars:
        return text
    half = chars // 2
    return f"{text[:half]}\n[... {len(text) - chars} characters clipped ...]\n{text[-half:]}"


def source_summary(agent_dir: Path, chars: int = SOURCE_CHARS) -> str:
    """The agent's files: a listing, then their text up to a character budget."""
    files = sorted(p for p in agent_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    listing = "\n".join(f"- {p.relative_to(agent_dir)} ({_lines(p)} lines)" for p in files)
    parts, left = [f"Files:\n{listing}\n"], chars
    for p in files:
        if p.suffix not in {".py", ".md", ".txt"} or left <= 0:
            continue
        body = clip(p.read_text(errors="replace"), left)
        left -= len(body)
        parts.append(f"## {p.relative_to(agent_dir)}\n```\n{body}\n```")
    return "\n".join(parts)


def _lines(path: Path) -> int:
    try:
        return path.read_text(errors="replace").count("\n")
    except OSError:
        return 0


def evidence_for(entry: Entry, evals: list[Any], problems: dict[str, str]) -> str:
    """What the agent itself saw: task statements, outcomes and its transcripts. Never the
    hidden tests or the grader's output."""
    chosen = [e for e in evals if entry.task is None or e.task == entry.task]
    chosen = sorted(chosen, key=lambda e: (e.outcome == "resolved", e.task))[:3]
    if not chosen:
        return "(no evaluations yet)"
    out = []
    for e in chosen:
        transcript = "(no transcript)"
        if e.log_path and Path(e.log_path).is_file():
            transcript = clip(Path(e.log_path).read_text(errors="replace"), TRANSCRIPT_CHARS)
        out.append(
            f"## Task {e.task}: {e.outcome}\n\n### Statement\n{problems.get(e.task, '')}\n\n"
            f"### The agent's transcript\n{transcript}"
        )
    return "\n\n".join(out)


class DiagnosisError(Exception):
    """The FM's diagnosis was not the JSON object asked for."""


class MissingField(DiagnosisError):
    """The diagnosis is a JSON object but lacks a field (worth one repair round-trip)."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"the diagnosis {problem}")
        self.field = field


@dataclass
class Diagnosis:
    weakness: str
    title: str
    description: str
    problem_statement: str
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def change_id(self) -> str | None:
        change = self.raw.get("proposed_change") or {}
        return change.get("id") if isinstance(change, dict) else None


def first_json_object(text: str) -> dict[str, Any] | None:
    """The first complete JSON object in an FM answer, fenced or bare; prose around it (even
    prose with braces) is ignored. A fenced ```json block is preferred when there is one."""
    text = text or ""
    decoder = json.JSONDecoder()
    fences = [m.start(1) for m in re.finditer(r"```(?:json|JSON)?[ \t]*\n(\s*\{)", text)]
    starts = fences + [m.start() for m in re.finditer(r"\{", text)]
    for start in starts:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


def parse_diagnosis(text: str) -> Diagnosis:
    """Read the diagnosis out of an FM answer: the first JSON object in it."""
    data = first_json_object(text)
    if data is None:
        raise DiagnosisError("the diagnosis holds no JSON object")
    change = data.get("proposed_change")
    statement = data.get("problem_statement")
    if not isinstance(change, dict):
        raise MissingField("proposed_change", "lacks proposed_change (an object)")
    if not isinstance(statement, str) or not statement.strip():
        raise MissingField("problem_statement", "lacks problem_statement (a non-empty string)")
    return Diagnosis(
        weakness=str(data.get("weakness", "")),
        title=str(change.get("title", "")),
        description=str(change.get("description", "")),
        problem_statement=statement,
        raw=data,
    )


def repair_message(error: MissingField) -> dict[str, str]:
    """The one follow-up a diagnosis missing a field gets: which field, and the shape."""
    return {
        "role": "user",
        "content": (
            f"Your answer {str(error).removeprefix('the diagnosis ')}: the field "
            f"`{error.field}` is missing or empty. Answer again with the complete JSON object "
            "only: weakness, evidence, proposed_change {title, description} and "
            "problem_statement."
        ),
    }


def diagnose_messages(entry: Entry, agent_dir: Path, evidence: str) -> list[dict[str, str]]:
    prompt = template("diagnose_request.md").substitute(
        weakness=entry.weakness(), source=source_summary(agent_dir), evidence=evidence
    )
    return [{"role": "user", "content": prompt}]


def self_modify_problem(diagnosis: Diagnosis) -> str:
    return template("self_modify_problem.md").substitute(
        weakness=diagnosis.weakness,
        title=diagnosis.title,
        description=diagnosis.description,
        problem_statement=diagnosis.problem_statement,
    )


def write_evidence(dest: Path, entry: Entry, evals: list[Any], problems: dict[str, str]) -> None:
    """The evidence directory handed to `agent.py improve` in hyperagent mode."""
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "README.md").write_text(
        template("evidence_readme.md").substitute(weakness=entry.weakness())
    )
    for i, e in enumerate(sorted(evals, key=lambda e: (e.outcome == "resolved", e.task))[:10]):
        body = evidence_for(Entry("failed_task", e.task), [e], problems)
        (dest / f"{i:02d}-{re.sub(r'[^A-Za-z0-9_.-]', '_', e.task)}.md").write_text(body)


def clean_tree(path: Path) -> None:
    """Drop byte-code caches the agent's runs leave behind; they are not source."""
    for cache in list(path.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
    for pyc in path.rglob("*.pyc"):
        pyc.unlink(missing_ok=True)


def elapsed(start: float) -> float:
    return round(time.monotonic() - start, 3)
