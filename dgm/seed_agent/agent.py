"""The seed coding agent: a step-capped, tool-using loop against the FM gateway.

    python agent.py solve --workspace DIR --problem FILE --log FILE
    python agent.py improve --self DIR --evidence DIR --log FILE

Standard library only; it talks to the FM through `fmclient` (DGM_FM_SOCKET, DGM_MODEL).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from string import Template

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fmclient import FMClient, FMClientError  # noqa: E402
from tools import TOOL_SCHEMAS, BashSession, Editor, ToolError, clip  # noqa: E402

MAX_STEPS = 30  # model turns before the agent gives up
CONTEXT_CHARS = 200_000  # rough size of the conversation the model may be sent
KEEP_RECENT = 6  # tool outputs that are never dropped by the context guard
LOG_CLIP = 4_000  # characters of one tool output written to the transcript
EVIDENCE_CHARS = 30_000  # how much evidence `improve` puts into its problem statement
NUDGE = (
    "You answered without calling a tool, so nothing was changed in the workspace. Use "
    "your tools (`editor` to write files, `bash` to run commands) to make the change "
    "yourself, then check it. Reply without a tool call only when the work is done."
)
CODE_BLOCK = "```"


class Transcript:
    """The Markdown log, written as the run goes so a killed run still leaves one."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("")

    def write(self, text: str) -> None:
        with self.path.open("a") as f:
            f.write(text.rstrip("\n") + "\n\n")


def prompt(name: str) -> str:
    return (HERE / "prompts" / name).read_text()


def execute(call: dict, bash: BashSession, editor: Editor) -> str:
    """Run one tool call from the model and return what the model will see."""
    function = call.get("function") or {}
    name = function.get("name")
    try:
        args = json.loads(function.get("arguments") or "{}")
        if not isinstance(args, dict):
            raise ValueError("arguments must be an object")
    except ValueError as exc:
        return f"error: the arguments are not a JSON object: {exc}"
    try:
        if name == "bash":
            return bash.run(str(args.get("command", "")))
        if name == "editor":
            return clip(editor.run(args))
    except ToolError as exc:
        return f"error: {exc}"
    except OSError as exc:
        return f"error: {exc}"
    return f"error: unknown tool {name!r}"


def context_size(messages: list[dict]) -> int:
    return sum(len(json.dumps(m)) for m in messages)


def guard_context(messages: list[dict]) -> bool:
    """Drop old tool outputs while the conversation is too long; False if it still is."""
    tool_msgs = [m for m in messages if m.get("role") == "tool"][:-KEEP_RECENT]
    for message in tool_msgs:
        if context_size(messages) <= CONTEXT_CHARS:
            break
        message["content"] = "[old output dropped to save context]"
    return context_size(messages) <= CONTEXT_CHARS


def solve(workspace: Path, problem: str, log: Transcript) -> str:
    """Run the tool loop until the model stops calling tools; return why it stopped."""
    client = FMClient()
    bash, editor = BashSession(workspace), Editor(workspace)
    messages = [
        {"role": "system", "content": prompt("system.md")},
        {"role": "user", "content": problem},
    ]
    log.write(f"# Agent transcript\n\n## Problem\n\n{problem}")
    steps, reason, nudged = 0, "step_cap", False
    try:
        while steps < MAX_STEPS:
            if not guard_context(messages):
                reason = "context_cap"
                break
            try:
                reply = client.chat(messages, TOOL_SCHEMAS)
            except FMClientError as exc:
                log.write(f"FM error: {exc}")
                reason = "fm_error"
                break
            steps += 1
            choice = reply["choices"][0]
            message = choice.get("message") or {}
            calls = message.get("tool_calls") or []
            text = message.get("content") or ""
            turn = {"role": "assistant", "content": text}
            if calls:
                turn["tool_calls"] = calls
            messages.append(turn)
            log.write(f"## Step {steps}\n\n{text}" if text else f"## Step {steps}")
            cut = choice.get("finish_reason") == "length"
            if cut:
                log.write("Note: the model's answer was cut off (finish_reason: length).")
            if not calls:
                # a model that pastes its code (or says nothing, or is cut off) instead of
                # using its tools gets told so once, rather than ending with nothing done
                if not nudged and (CODE_BLOCK in text or not text.strip() or cut):
                    nudged = True
                    messages.append({"role": "user", "content": NUDGE})
                    log.write(f"Nudge: {NUDGE}")
                    continue
                reason = "done"
                break
            for call in calls:
                output = execute(call, bash, editor)
                function = call.get("function") or {}
                log.write(
                    f"### {function.get('name')}\n\n```\n{function.get('arguments')}\n```\n\n"
                    f"Output:\n\n```\n{clip(output, LOG_CLIP)}\n```"
                )
                messages.append({"role": "tool", "tool_call_id": call.get("id"), "content": output})
    finally:
        bash.close()
    log.write(f"steps: {steps}, stopped: {reason}")
    return reason


def evidence_text(evidence: Path) -> str:
    """The evidence directory as text: its README first, then the other files."""
    files = sorted(p for p in evidence.rglob("*") if p.is_file())
    files.sort(key=lambda p: p.name != "README.md")
    parts, left = [], EVIDENCE_CHARS
    for path in files:
        if left <= 0:
            break
        body = clip(path.read_text(errors="replace"), max(left, 1_000))
        left -= len(body)
        parts.append(f"## {path.relative_to(evidence).as_posix()}\n\n{body}")
    return "\n\n".join(parts) or "(no evidence)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agent.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p_solve = sub.add_parser("solve", help="solve the problem in the workspace")
    p_solve.add_argument("--workspace", required=True, type=Path)
    p_solve.add_argument("--problem", required=True, type=Path)
    p_solve.add_argument("--log", required=True, type=Path)
    p_improve = sub.add_parser("improve", help="improve this agent's own source")
    p_improve.add_argument("--self", dest="self_dir", required=True, type=Path)
    p_improve.add_argument("--evidence", required=True, type=Path)
    p_improve.add_argument("--log", type=Path, default=Path("improve-log.md"))
    args = parser.parse_args(argv)

    log = Transcript(args.log)
    if args.mode == "solve":
        workspace, problem = args.workspace, args.problem.read_text()
    else:
        workspace = args.self_dir
        problem = Template(prompt("improve.md")).safe_substitute(
            evidence=evidence_text(args.evidence)
        )
    if not workspace.is_dir():
        print(f"error: workspace {workspace} is not a directory", file=sys.stderr)
        return 2
    solve(workspace.resolve(), problem, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
