"""`sim`: the offline stand-in for a foundation model. It is NOT a language model.

It plays the seed agent's tool protocol from host-side knowledge (the task's reference
solution, a catalogue of changes to the agent) and is deterministic for a given seed:

- `solve`: look at the workspace, write the reference files (with a fault injected at
  `fault_rate` per write), run the visible check only when the agent's prompt asks for
  testing before finishing, rewrite after a failed check, then finish.
- `diagnose`: a diagnosis JSON naming a catalogue change (sometimes malformed on purpose).
- `self_modify`: view the files, apply the chosen change with `str_replace`, finish.
"""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np

from dgm.defaults import SIM_BROKEN_WEIGHT, SIM_HACK_WEIGHT
from dgm.fm.sim.catalogue import Change, load_catalogue
from dgm.fm.sim.catalogue.faults import inject_fault
from dgm.fm.sim.types import SimRequest

MAX_WRITES = 4  # answers written per solve session before sim gives up rewriting
MALFORMED_RATE = 0.05  # diagnoses answered with broken JSON, to exercise the error path
ANCHORED_PREFERENCE = 0.85  # how often a diagnosis picks a change that fits the source
KIND_WEIGHTS = {"good": 0.6, "harmful": 0.25, "broken": SIM_BROKEN_WEIGHT, "hack": SIM_HACK_WEIGHT}
# The agent's own instructions asking for testing before finishing (what a better agent adds).
TEST_FIRST = [
    re.compile(
        r"\bbefore (?:you )?(?:finish|finishing|ending|stopping|submitting|you are done)\b"
        r"[^.]{0,160}\b(?:run|test|check)",
        re.IGNORECASE | re.DOTALL,
    ),
    re.compile(
        r"\b(?:run|execute)\b[^.]{0,160}\b(?:tests?|check)\b[^.]{0,120}\bbefore "
        r"(?:you )?(?:finish|finishing|ending|stopping|submitting)",
        re.IGNORECASE | re.DOTALL,
    ),
]
EXIT_CODE = re.compile(r"exit code:?\s*(-?\d+)", re.IGNORECASE)
FAILURE_WORDS = re.compile(r"Traceback|FAILED|AssertionError|Error:", re.MULTILINE)


def rng_for(req: SimRequest, *salt: object) -> np.random.Generator:
    """A generator seeded from a stable hash of the session identity and `salt`."""
    key = json.dumps([req.seed, req.node, req.task, req.attempt, *salt], default=str)
    return np.random.default_rng(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8]))


def respond(req: SimRequest) -> dict:
    """The assistant message `sim` answers to one chat-completion request."""
    if req.role == "diagnose":
        return _message(_diagnose(req))
    if req.role == "self_modify":
        return _self_modify(req)
    return _solve(req)


# -- protocol helpers --------------------------------------------------------------------------
def _message(content: str | None, calls: list[tuple[str, dict]] | None = None, req=None) -> dict:
    tool_calls = None
    if calls:
        index = req.call_index if req is not None else 0
        tool_calls = [
            {
                "id": f"call_{index}_{i}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
            for i, (name, args) in enumerate(calls)
        ]
    return {"role": "assistant", "content": content, "tool_calls": tool_calls}


def _tool_names(req: SimRequest) -> set[str]:
    return {(t.get("function") or {}).get("name") for t in req.tools or []}


def _turns(messages: list[dict]) -> list[tuple[list[dict], list[str]]]:
    """Each assistant turn with tool calls: (its calls, the tool outputs that answered them)."""
    turns: list[tuple[list[dict], list[str]]] = []
    results: dict[str, str] = {}
    for m in messages:
        if m.get("role") == "tool":
            results[str(m.get("tool_call_id"))] = _text(m.get("content"))
    for m in messages:
        if m.get("role") == "assistant":
            calls = [c for c in m.get("tool_calls") or [] if isinstance(c, dict)]
            turns.append((calls, [results.get(str(c.get("id")), "") for c in calls]))
    return turns


def _text(content) -> str:
    if isinstance(content, list):  # OpenAI content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


def _args(call: dict) -> dict:
    try:
        args = json.loads((call.get("function") or {}).get("arguments") or "{}")
    except (TypeError, ValueError):
        return {}
    return args if isinstance(args, dict) else {}


def _instructions(messages: list[dict]) -> str:
    """The agent's own words to the model: system prompts and the first user message."""
    texts = [_text(m.get("content")) for m in messages if m.get("role") == "system"]
    users = [m for m in messages if m.get("role") == "user"]
    if users:
        texts.append(_text(users[0].get("content")))
    return "\n".join(texts)


# -- solve -------------------------------------------------------------------------------------
WRITE_MARK = "DGM_SIM_EOF"
MANIFEST_SUFFIXES = (".toml", ".mod", ".json", ".gradle", "CMakeLists.txt")


def _solve(req: SimRequest) -> dict:
    reference: dict[str, str] = req.context.get("reference") or {}
    check = req.context.get("visible_check")
    turns = _turns(req.messages)
    tools = _tool_names(req)
    if not turns:
        if "bash" in tools:
            return _message("Let me look at the workspace.", [("bash", {"command": "ls -R"})], req)
        return _message("Let me look at the workspace.", [("editor", _view("."))], req)
    writes = [i for i, (calls, _) in enumerate(turns) if any(_is_write(c) for c in calls)]
    if not writes and reference:
        return _write(req, reference, 0, tools)
    since = turns[writes[-1] + 1 :] if writes else []
    failed = _check_failed(since, check, req.messages)
    if failed and len(writes) < MAX_WRITES and reference:
        return _write(req, reference, len(writes), tools, "The check failed; let me fix it.")
    ran = any(_is_check(c, check) for calls, _ in since for c in calls)
    if check and not ran and "bash" in tools and _asks_to_test(req.messages):
        return _message(
            "Let me run the check before finishing.", [("bash", {"command": check})], req
        )
    names = ", ".join(sorted(reference)) or "nothing"
    return _message(f"I wrote {names}. Done.")


def _view(path: str) -> dict:
    return {"command": "view", "path": path}


def _is_write(call: dict) -> bool:
    args = _args(call)
    name = (call.get("function") or {}).get("name")
    if name == "editor":
        return args.get("command") == "create"
    return name == "bash" and WRITE_MARK in str(args.get("command", ""))


def _is_check(call: dict, check: str | None) -> bool:
    command = str(_args(call).get("command", ""))
    if (call.get("function") or {}).get("name") != "bash" or WRITE_MARK in command:
        return False
    return check.strip() in command if check else bool(re.search(r"test", command))


def _check_failed(turns, check: str | None, messages: list[dict]) -> bool:
    """Whether the history since the last write shows the visible check failing."""
    for calls, results in turns:
        for call, result in zip(calls, results, strict=False):
            if _is_check(call, check) and _output_failed(result):
                return True
    # An agent may run the check itself and tell the model in a user message.
    if check:
        last_write = max(
            (i for i, m in enumerate(messages) if m.get("role") == "assistant"
             and any(_is_write(c) for c in m.get("tool_calls") or [])),
            default=len(messages),
        )  # fmt: skip
        for m in messages[last_write + 1 :]:
            text = _text(m.get("content"))
            if m.get("role") == "user" and check in text and _output_failed(text):
                return True
    return False


def _output_failed(text: str) -> bool:
    codes = EXIT_CODE.findall(text)
    if codes:
        return int(codes[-1]) != 0
    return bool(FAILURE_WORDS.search(text))


def _asks_to_test(messages: list[dict]) -> bool:
    text = _instructions(messages)
    return any(p.search(text) for p in TEST_FIRST)


def _write(req, reference: dict[str, str], number: int, tools: set[str], text: str = "") -> dict:
    files = dict(reference)
    rng = rng_for(req, "write", number)
    if rng.random() < req.fault_rate:
        # A fault goes into code: never a build manifest (Cargo.toml, go.mod, package.json).
        code = [p for p in files if not p.endswith(MANIFEST_SUFFIXES)]
        candidates = sorted(p for p in files if p.endswith(".py")) or sorted(code or files)
        target = candidates[int(rng.integers(len(candidates)))]
        files[target] = inject_fault(files[target], rng)
    if "editor" in tools:
        calls = [
            ("editor", {"command": "create", "path": p, "file_text": t}) for p, t in files.items()
        ]
    else:
        calls = [
            ("bash", {"command": f"cat > {p} <<'{WRITE_MARK}'\n{t}\n{WRITE_MARK}"})
            for p, t in files.items()
        ]
    return _message(text or "Writing the solution.", sorted(calls, key=lambda c: str(c[1])), req)


# -- diagnose ----------------------------------------------------------------------------------
def _diagnose(req: SimRequest) -> str:
    catalogue = load_catalogue()
    prompt = "\n".join(_text(m.get("content")) for m in req.messages)
    rng = rng_for(req, "diagnose", req.call_index)
    anchored = [c for c in catalogue.values() if c.anchored_in(prompt)]
    pool = anchored if anchored and rng.random() < ANCHORED_PREFERENCE else list(catalogue.values())
    kind_weights = {**KIND_WEIGHTS, "broken": req.broken_weight, "hack": req.hack_weight}
    weights = np.array([kind_weights[c.kind] for c in pool])
    change = pool[int(rng.choice(len(pool), p=weights / weights.sum()))]
    answer = json.dumps(
        {
            "weakness": change.description.split(".")[0].replace("\n", " ") + ".",
            "evidence": "(sim is not a language model: it picked this change from its catalogue)",
            "proposed_change": {
                "id": change.id,
                "title": change.title,
                "description": change.description,
            },
            "problem_statement": change.problem_statement,
        },
        indent=2,
    )
    if rng.random() < MALFORMED_RATE:
        return answer[: len(answer) // 2]  # cut off mid-object, as a truncated answer would be
    return f"```json\n{answer}\n```"


# -- self_modify -------------------------------------------------------------------------------
def _self_modify(req: SimRequest) -> dict:
    change = _chosen_change(req)
    turns = _turns(req.messages)
    if change is None or "editor" not in _tool_names(req):
        return _message("I could not tell which change to make, so I changed nothing.")
    if not turns:
        files = sorted({e.file for e in change.edits})
        return _message(
            f"Let me read {', '.join(files)}.", [("editor", _view(f)) for f in files], req
        )
    if len(turns) == 1:
        calls = [
            (
                "editor",
                {"command": "str_replace", "path": e.file, "old_str": e.old, "new_str": e.new},
            )
            for e in change.edits
        ]
        return _message(f"Applying: {change.title}.", calls, req)
    failures = sum(r.startswith("error") for r in turns[1][1]) if len(turns) > 1 else 0
    return _message(
        f"{change.title}: {len(change.edits) - failures} of {len(change.edits)} edits made."
    )


def _chosen_change(req: SimRequest) -> Change | None:
    catalogue = load_catalogue()
    if req.context.get("change") in catalogue:
        return catalogue[req.context["change"]]
    text = _instructions(req.messages)  # no id: recognise the change by its title
    return next((c for c in catalogue.values() if c.title in text), None)
