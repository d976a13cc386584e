"""The work a worker thread does: evaluate a node on a task, or expand a parent into a child.

Workers only read the archive (materialise sources, read records); every write happens on
the scheduler thread when the result comes back, so an outcome is committed before any later
decision reads it.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from archive import Archive
from dgm.evolve import improve
from dgm.evolve.evaluate import TaskResult, run_task
from dgm.evolve.validate import SMOKE_CONTEXT, Verdict, validate_child
from dgm.fm import BudgetExceeded, FMError, Gateway, ProviderDown, SessionTags
from dgm.protocols import Benchmark
from dgm.run.config import RunConfig
from dgm.run.rundir import RunDir
from sandbox import LimitExceeded, Sandbox, SandboxConfig


@dataclass
class Expansion:
    """What one self-modification produced; the scheduler turns it into a node."""

    parent: int
    index: int
    entry: str
    problem_statement: str
    child_dir: Path
    valid: bool
    reason: str | None
    seconds: float
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Evaluation:
    node: int
    task: str
    result: TaskResult


class Workbench:
    """Shared by the worker threads of one run."""

    def __init__(self, run: RunDir, config: RunConfig, archive: Archive, benchmark: Benchmark,
                 gateway: Gateway):  # fmt: skip
        self.run, self.config, self.archive = run, config, archive
        self.benchmark, self.gateway = benchmark, gateway
        self.sandbox_config = SandboxConfig(background_removal=True)
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()
        self.scratch = Path(tempfile.mkdtemp(prefix="dgm-work-"))

    def close(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)

    def agent_source(self, node: int) -> Path:
        """The node's source, materialised once into the run directory (then read-only)."""
        with self._guard:
            lock = self._locks.setdefault(node, threading.Lock())
        with lock:
            dest = self.run.agent_dir(node)
            if not (dest / ".complete").exists():
                shutil.rmtree(dest, ignore_errors=True)
                tmp = dest.with_name(f".{node}.tmp")
                shutil.rmtree(tmp, ignore_errors=True)
                self.archive.materialize(node, tmp)
                (tmp / ".complete").write_text("")
                tmp.rename(dest)
        return dest

    def labels(self, node: int, task: str) -> dict[str, str]:
        return {"dgm.run": self.run.run_id, "dgm.node": str(node), "dgm.task": task}

    # -- evaluation ------------------------------------------------------------------------
    def evaluate(self, node: int, task_id: str, attempt: int) -> Evaluation:
        task = self.benchmark.task(task_id)
        log_dir = self.run.logs / f"node-{node}"
        log_dir.mkdir(parents=True, exist_ok=True)
        result = run_task(
            self.agent_source(node),
            task,
            gateway=self.gateway,
            run_id=self.run.run_id,
            node=node,
            attempt=attempt,
            sandbox_config=self.sandbox_config,
            log_dir=log_dir,
            timeout=self.config.solve_timeout,
        )
        return Evaluation(node, task_id, result)

    # -- expansion -------------------------------------------------------------------------
    def expand(self, parent: int, index: int) -> Expansion:
        start = time.monotonic()
        parent_dir = self.agent_source(parent)
        work = self.scratch / f"expansion-{index}"
        shutil.rmtree(work, ignore_errors=True)
        child_dir = work / "child"
        shutil.copytree(parent_dir, child_dir, ignore=shutil.ignore_patterns(".complete"))
        rng = np.random.default_rng([self.config.seed, 7, index])
        evals = self.archive.evaluations(parent)
        entry = improve.choose_entry(evals, self.config.entries, rng)
        problems = {e.task: self._problem_text(e.task) for e in evals}
        log = self.run.logs / f"expansion-{index}.md"
        meta: dict[str, Any] = {"expansion": index, "log": str(log)}
        try:
            diagnosis = self._diagnose(parent, index, entry, parent_dir, evals, problems)
        except (improve.DiagnosisError, FMError) as exc:
            if isinstance(exc, BudgetExceeded) and exc.scope == "run":
                raise  # the run is out of FM money: no verdict on this expansion
            if isinstance(exc, ProviderDown):
                raise  # the provider failed, not the parent: held, tried again later
            return Expansion(
                parent, index, entry.label, "", child_dir, False,
                f"diagnosis failed: {exc}", improve.elapsed(start), meta,
            )  # fmt: skip
        meta["diagnosis"] = diagnosis.raw
        statement = improve.self_modify_problem(diagnosis)
        task_dir = work / "task"
        task_dir.mkdir()
        (task_dir / "problem.md").write_text(statement)
        if self.config.meta == "agent":
            improve.write_evidence(task_dir / "evidence", entry, evals, problems)
            command = "improve --self /work --evidence /task/evidence --log /out/log.md"
        else:
            command = "solve --workspace /work --problem /task/problem.md --log /out/log.md"
        tags = SessionTags(
            run=self.run.run_id, node=parent, task=f"expansion-{index}", role="self_modify",
            attempt=index,
        )  # fmt: skip
        sim = {"change": diagnosis.change_id}
        with (
            self.gateway.session(tags, sim_context=sim) as fm,
            Sandbox(
                self.sandbox_config,
                labels=self.labels(parent, f"expansion-{index}"),
                ro_mounts={str(parent_dir): "/agent", str(task_dir): "/task"},
                socket_dir=fm.socket_dir,
                env=fm.env,
            ) as sb,
        ):
            sb.copy_in(child_dir, "/work")
            res = sb.run(
                ["sh", "-c", f"python3 /agent/agent.py {command}"],
                timeout=self.config.self_modify_timeout,
            )
            shutil.rmtree(child_dir)
            copy_problem = copy_child_out(sb, child_dir, work / "out")
        fm.raise_if_refused()
        if (work / "out" / "log.md").is_file():
            shutil.copyfile(work / "out" / "log.md", log)
        improve.clean_tree(child_dir)
        meta.update(exit_code=res.exit_code, timed_out=res.timed_out)
        if copy_problem:  # the child's own doing: invalid, and nothing of it runs again
            verdict = Verdict(False, copy_problem)
        else:
            verdict = self._validate(parent, index, parent_dir, child_dir)
        meta["changed_files"] = verdict.changed_files
        meta["seconds"] = round(improve.elapsed(start), 3)
        return Expansion(
            parent, index, entry.label, statement, child_dir, verdict.valid, verdict.reason,
            improve.elapsed(start), meta,
        )  # fmt: skip

    def _problem_text(self, task_id: str) -> str:
        try:
            return self.benchmark.task(task_id).problem
        except Exception:  # noqa: BLE001 - a task gone from the suite still has a transcript
            return ""

    def _diagnose(self, parent: int, index: int, entry: improve.Entry, parent_dir: Path,
                  evals: list[Any], problems: dict[str, str]) -> improve.Diagnosis:  # fmt: skip
        evidence = improve.evidence_for(entry, evals, problems)
        messages = improve.diagnose_messages(entry, parent_dir, evidence)
        tags = SessionTags(
            run=self.run.run_id, node=parent, task=f"expansion-{index}", role="diagnose",
            attempt=index,
        )  # fmt: skip
        with self.gateway.session(tags, sim_context={}) as fm:
            reply = self.gateway.complete(fm, messages)
            try:
                return improve.parse_diagnosis(_content(reply))
            except improve.MissingField as exc:
                # one repair round-trip: the model is told which field is missing
                messages = [*messages, {"role": "assistant", "content": _content(reply)},
                            improve.repair_message(exc)]  # fmt: skip
                reply = self.gateway.complete(fm, messages)
        try:
            return improve.parse_diagnosis(_content(reply))
        except improve.DiagnosisError as exc:
            raise improve.DiagnosisError(f"{exc} (after one repair request)") from None

    def _validate(self, parent: int, index: int, parent_dir: Path, child_dir: Path) -> Verdict:
        tags = SessionTags(
            run=self.run.run_id, node=parent, task=f"smoke-{index}", role="solve", attempt=index
        )
        cap = self.config.budget.smoke_calls
        with self.gateway.session(tags, sim_context=SMOKE_CONTEXT, max_calls=cap) as fm:
            verdict = validate_child(
                parent_dir,
                child_dir,
                fm_session=fm,
                sandbox_config=self.sandbox_config,
                labels=self.labels(parent, f"validate-{index}"),
                timeout=self.config.validate_timeout,
                smoke_timeout=self.config.smoke_timeout(),
            )
        fm.raise_if_refused()  # closed: calls still at the provider have landed
        return verdict


def _content(reply: Any) -> str:
    """The assistant text of the gateway's reply (an OpenAI-style message dict)."""
    return (reply or {}).get("content") or ""


def copy_child_out(sb: Sandbox, child_dir: Path, out_dir: Path) -> str | None:
    """Copy the child's source and the log out of the sandbox, once every process in it is
    killed. Why the child is invalid when its source cannot be copied whole (unreadable,
    nested too deep, too large: what the parent left is its own doing, not a failed job);
    `child_dir` then holds what could be copied."""
    sb.kill_all()
    try:
        report = sb.copy_out_many({"/work": child_dir, "/out": out_dir})
    except LimitExceeded as exc:
        child_dir.mkdir(parents=True, exist_ok=True)
        return f"its source could not be copied out: {exc}"
    work = report.under("work")
    if work.incomplete:
        return f"its source could not be copied out whole: {work.describe()}"
    return None
