"""What the scheduler has under way, and how it is saved so a killed run resumes it.

Each policy action becomes a `Group` of `Work` items (one expansion, or one evaluation per
task); the policy is told when the whole group is done. The groups are saved in the
archive's state after every change, so a resume re-queues exactly what was in flight,
minus what was committed just before the kill.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archive import Archive, Node
from dgm.policies import Evaluate, Expand

STATE_KEY = "loop"


@dataclass
class Work:
    """One item of a group: an evaluation of one task, or one expansion. (An executor's
    `Job` is the self-contained data a worker gets for it.)"""

    group: int
    kind: str  # "evaluate" | "expand"
    node: int
    task: str | None = None
    index: int = 0  # expansion index, or evaluation attempt

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class Group:
    """The work of one policy action; the policy is told when all of it is done."""

    action: Expand | Evaluate
    work: list[Work]
    successes: dict[str, bool] = field(default_factory=dict)
    child: int | None = None
    child_valid: bool = False


def save_state(archive: Archive, groups: dict[int, Group], **loop: Any) -> None:
    """The loop's counters, the policy's state and every group, in one state row."""
    saved = [
        {"id": gid, "action": action_to_dict(g.action), "jobs": [w.to_dict() for w in g.work],
         "successes": g.successes}
        for gid, g in groups.items()
    ]  # fmt: skip
    archive.put_state(STATE_KEY, {**loop, "groups": saved})


def restore_group(saved: dict[str, Any], archive: Archive,
                  expansions: dict[int, Node]) -> Group:  # fmt: skip
    """A saved group without the work committed just before the kill: evaluations already
    in the archive, and expansions whose child exists (`expansions`: index -> child)."""
    group = Group(action_from_dict(saved["action"]), [], dict(saved.get("successes", {})))
    done = archive.evaluated_tasks
    for item in saved["jobs"]:
        work = Work(**item)
        if work.kind == "evaluate" and work.task in done(work.node):
            continue
        if work.kind == "expand" and work.index in expansions:
            child = expansions[work.index]
            group.child, group.child_valid = child.id, child.status == "valid"
            continue
        group.work.append(work)
    return group


def action_to_dict(action: Expand | Evaluate) -> dict[str, Any]:
    if isinstance(action, Expand):
        return {"kind": "expand", "parent": action.parent}
    return {"kind": "evaluate", "node": action.node, "tasks": list(action.tasks)}


def action_from_dict(d: dict[str, Any]) -> Expand | Evaluate:
    if d["kind"] == "expand":
        return Expand(d["parent"])
    return Evaluate(d["node"], tuple(d["tasks"]))
