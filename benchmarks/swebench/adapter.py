"""`swebench`: SWE-bench-format instances as tasks, solved and graded in their own images.

Solve: the workspace is the repository at base_commit with what its install wrote there,
seeded inside the container from the image's base tree (`Task.base_tree`, see
docs/contracts.md); the problem is the issue (hints only with `hints=True`); no test from
`test_patch` is in it. What comes back to the host is the agent's delta against that tree.

Grade (the shared clean-room grader, `grade_in_sandbox`, in a fresh container of the same
image): the base tree, the agent's delta over it, the hidden files restored over that, then
`grade_command`: the instance's test command on its test files (Django: test modules), its
output parsed per test on the host (pytest -rA, sympy's bin/test, Django's runtests.py).
Resolved means every FAIL_TO_PASS and PASS_TO_PASS test reported passed, except the tests an
environment file lists as needing a network and list entries that are no test id at all
(artifacts of SWE-bench's log parsing such as `[100%]`): both excluded, named in
`meta["excluded_tests"]` (a JSON list) with the reason in `meta["excluded_why"]`.

What the agent cannot change about its verdict (the rule):
- test files: every file `test_patch` touches is restored to its post-`test_patch` text;
- pytest configuration and plugins: every original `conftest.py`, `pytest.ini`,
  `.pytest.ini`, `pytest.toml`, `tox.ini`, `setup.cfg`, `pyproject.toml`, `sitecustomize.py`
  and `usercustomize.py` is restored to its base_commit text, and any such file the agent
  added is deleted before the tests start (by the grading command's preamble, which runs
  before any of the agent's code);
- `__pycache__` and `.pyc` files are never copied into the grading sandbox.
The code under test is the agent's: a repository whose tests run its own code (pytest's)
can still be made to lie by a patch to that code, as in SWE-bench itself.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from benchmarks.base import BenchmarkError, GradeResult, Task, TestPlan
from benchmarks.grading import grade_in_sandbox
from benchmarks.swebench import parsers
from benchmarks.swebench.dataset import (
    EnvSpec,
    RepoSource,
    load_env,
    load_records,
    patch_files,
)
from benchmarks.swebench.images import BASE_TREE, Builder, image_size
from sandbox import SandboxConfig

if TYPE_CHECKING:
    from sandbox import Sandbox

SUBSET_SIZES = {"small": 10, "medium": 50}
GUARDED = frozenset(
    {"conftest.py", "pytest.ini", ".pytest.ini", "pytest.toml", "tox.ini", "setup.cfg",
     "pyproject.toml", "sitecustomize.py", "usercustomize.py"}
)  # fmt: skip
REPORT = "/tmp/dgm-report.txt"
CACHED_TASKS = 4  # tasks kept built (a large repository's files are tens of MB)
PROBLEM = """\
# {iid}: an issue in {repo}

The repository {repo} is in your workspace (the current directory), checked out at commit
{commit}, with its requirements installed in the environment's Python (`python3`; there is
no network). Resolve the issue below by changing the repository's source. The tests that
check your fix are hidden; you may write and run tests of your own.

## Issue

{statement}
"""


class SwebenchBenchmark:
    """SWE-bench-format instances. `path`: a directory like `shared/swebench`
    (instances.jsonl, repos/, env/), a dataset file, or a TOML file with the keys below."""

    name = "swebench"

    def __init__(
        self,
        path: str | Path | None = None,
        dataset: str | None = None,
        split: str = "test",
        repos: str | Path | None = None,
        env_dir: str | Path | None = None,
        clone: bool = False,
        hints: bool = False,
        instances: str | list[str] | None = None,
        lists: dict[str, str] | None = None,
        time_limit: float = 600.0,
        console=None,
        python_map: dict[str, str] | None = None,
    ):
        settings = _settings(path)
        self.dataset = dataset or settings.get("dataset")
        self.split = settings.get("split", split)
        repos = repos or settings.get("repos")
        env_dir = env_dir or settings.get("env")
        self.repos = RepoSource(Path(repos) if repos else None, settings.get("clone", clone))
        self.env_dir = Path(env_dir) if env_dir else None
        self.hints = bool(settings.get("hints", hints))
        chosen = settings.get("instances", instances)
        if isinstance(chosen, str):
            chosen = [i.strip() for i in chosen.split(",") if i.strip()]
        self.instances = list(chosen) if chosen else None
        self.lists = {**settings.get("lists", {}), **(lists or {})}
        # An explicit, documented mapping of a spec's Python to a buildable one (README)
        mapping = {**settings.get("python_map", {}), **(python_map or {})}
        self.python_map = {str(k): str(v) for k, v in mapping.items()}
        self.time_limit = float(time_limit)
        self.builder = Builder(console or Console(stderr=True))
        self._records: dict[str, dict] | None = None
        self._tasks: dict[str, Task] = {}

    # -- the suite -----------------------------------------------------------------------
    @property
    def records(self) -> dict[str, dict]:
        if self._records is None:
            if not self.dataset:
                raise BenchmarkError(
                    "swebench needs a dataset: give --benchmark-path DIR|FILE (a directory like "
                    "shared/swebench, a JSON/JSONL file or a swebench.toml)"
                )
            records = {r["instance_id"]: r for r in load_records(self.dataset, self.split)}
            if self.instances:
                unknown = [i for i in self.instances if i not in records]
                if unknown:
                    raise BenchmarkError(f"unknown swebench instance '{unknown[0]}'")
                records = {i: records[i] for i in self.instances}
            if not records:
                raise BenchmarkError(f"swebench dataset {self.dataset} has no instances")
            self._records = records
        return self._records

    def subsets(self) -> dict[str, list[str]]:
        """`small` (first 10), `medium` (first 50), `full`, and the named lists."""
        ids = list(self.records)
        out = {name: ids[:size] for name, size in SUBSET_SIZES.items()}
        out["full"] = ids
        for name, file in self.lists.items():
            out[name] = self._read_list(Path(file))
        return out

    def _read_list(self, file: Path) -> list[str]:
        try:
            lines = file.expanduser().read_text().splitlines()
        except OSError as exc:
            raise BenchmarkError(f"cannot read the instance list {file}: {exc}") from None
        ids = [ln.split("#")[0].strip() for ln in lines]
        ids = [i for i in ids if i]
        unknown = [i for i in ids if i not in self.records]
        if unknown:
            raise BenchmarkError(f"{file}: unknown swebench instance '{unknown[0]}'")
        return ids

    def task_ids(self, subset: str = "full") -> list[str]:
        subsets = self.subsets()
        if subset in subsets:
            return subsets[subset]
        if Path(subset).expanduser().is_file():  # a list file given as the subset
            return self._read_list(Path(subset))
        raise BenchmarkError(
            f"unknown subset '{subset}' of swebench (choose {', '.join(subsets)} or a file)"
        )

    def tasks(self, subset: str = "full") -> list[Task]:
        """The tasks of a subset (their images are built first when missing)."""
        return [self.task(task_id) for task_id in self.task_ids(subset)]

    def task(self, task_id: str) -> Task:
        record = self.records.get(task_id)
        if record is None:
            raise BenchmarkError(f"unknown swebench task '{task_id}'")
        if task_id not in self._tasks:
            if len(self._tasks) >= CACHED_TASKS:
                self._tasks.pop(next(iter(self._tasks)))
            self._tasks[task_id] = self._build_task(record)
        return self._tasks[task_id]

    def prepare(self, console=None, ids: list[str] | None = None) -> None:
        """Build the images of `ids` (default: the `instances` option) when missing; a run
        builds the rest as `tasks()` asks for them."""
        if console is not None:
            self.builder.console = console
        for task_id in ids or self.instances or []:
            self.prepare_instance(task_id)

    def prepare_instance(self, task_id: str) -> dict:
        """Build (or find) the instance's image; what it took, for a summary."""
        record = self.records.get(task_id)
        if record is None:
            raise BenchmarkError(f"unknown swebench task '{task_id}'")
        files, modes = self.repos.files(record)
        spec = load_env(record, self.env_dir, files.get, self.python_map)
        before = len(self.builder.built)
        tag = self.builder.instance(record, spec, files, modes)
        built = self.builder.built[before:]
        return {
            "instance": task_id,
            "image": tag,
            "python": spec.python,
            "built": [name for name, _ in built],
            "seconds": round(sum(s for _, s in built), 1),
            "size_mb": round(image_size(tag) / 1e6, 1),
        }

    # -- one task ------------------------------------------------------------------------
    def _build_task(self, record: dict) -> Task:
        iid = record["instance_id"]
        raw, modes = self.repos.files(record)
        spec = load_env(record, self.env_dir, raw.get, self.python_map)
        parser = parsers.parser_for(spec.test_cmd)
        if not parser:
            raise BenchmarkError(f"{iid}: no per-test report parser for `{spec.test_cmd}`")
        image = self.builder.instance(record, spec, raw, modes)
        files, _ = _texts(raw)  # the base tree's text files: the hidden ones are taken here
        tests_after = apply_patch(raw, record["test_patch"], iid, "test_patch")
        reference = apply_patch(raw, record["patch"], iid, "patch")
        hidden = {p: t for p, t in tests_after.items() if t is not None}
        deleted = sorted(p for p, t in tests_after.items() if t is None)
        guarded = {p: t for p, t in files.items() if Path(p).name in GUARDED}
        hidden = {**guarded, **hidden}
        listed = list(dict.fromkeys((*record["FAIL_TO_PASS"], *record["PASS_TO_PASS"])))
        network = set(spec.network_tests)
        artifacts = {t for t in listed if not parsers.is_test_id(parser, t)}
        excluded = network | artifacts
        expected = [t for t in listed if t not in excluded]
        statement = record["problem_statement"].strip()
        if self.hints and (record.get("hints_text") or "").strip():
            statement += "\n\n## Hints\n\n" + record["hints_text"].strip()
        problem = PROBLEM.format(
            iid=iid, repo=record["repo"], commit=record["base_commit"][:12], statement=statement
        )
        executables = sorted(p for p in files if modes.get(p, 0o644) & 0o111)
        command = grade_script(spec, sorted(guarded), deleted, executables)
        return Task(
            id=iid,
            benchmark=self.name,
            problem=problem,
            files={},  # the repository is the image's base tree; the host adds nothing
            hidden_tests=hidden,
            grade_command=("bash", "-c", command),
            reference={p: t for p, t in reference.items() if t is not None} or None,
            time_limit=self.time_limit,
            meta={
                "repo": record["repo"],
                "base_commit": record["base_commit"],
                "version": str(record.get("version", "")),
                "environment": spec.source,
                "excluded_tests": json.dumps(sorted(excluded)),  # ids may hold commas
                "excluded_why": "; ".join(
                    why
                    for why, group in (
                        (f"{len(network)} need a network ({spec.source})", network),
                        (f"{len(artifacts)} are not test ids (SWE-bench log artifacts)", artifacts),
                    )
                    if group
                ),
                "fail_to_pass": str(len(record["FAIL_TO_PASS"])),
                "pass_to_pass": str(len(record["PASS_TO_PASS"])),
            },
            plan=TestPlan(
                kind="command",
                expected=tuple(expected),
                report_format=parser,
                report_path=REPORT,
            ),
            image=image,
            base_tree=BASE_TREE,
        )

    def sandbox_config(self, task: Task) -> SandboxConfig:
        """The sandbox of an instance: its image, with the limits a run's evaluations use
        (the six shared instances solve and grade within them)."""
        return SandboxConfig(image=task.image)

    def grade(
        self,
        task: Task,
        result_dir: Path,
        labels: dict[str, str] | None = None,
        sandbox: Sandbox | None = None,
        deleted: Sequence[str] = (),
    ) -> GradeResult:
        """Grade the agent's delta (`result_dir`: its changed and added files; `deleted`:
        the base files it removed) in a fresh container of the task's image."""
        return grade_in_sandbox(
            task,
            result_dir,
            config=self.sandbox_config(task),
            labels=labels,
            sandbox=sandbox,
            deleted=deleted,
        )


def grade_script(
    spec: EnvSpec, guarded: list[str], deleted: list[str], executables: list[str]
) -> str:
    """The grading command: a preamble that runs before any of the agent's code (drops
    planted config/plugin files, restores modes), then the tests, output to REPORT."""
    names = " -o ".join(f"-name {shlex.quote(n)}" for n in sorted(GUARDED))
    keep = "|".join(shlex.quote(f"./{p}") for p in guarded) or "''"
    lines = [
        "cd /work || exit 3",
        f"find . \\( {names} \\) -type f -print | while IFS= read -r f; do "
        f'case "$f" in {keep}) ;; *) rm -f -- "$f" ;; esac; done',
    ]
    if deleted:
        lines.append("rm -f -- " + " ".join(shlex.quote(p) for p in deleted))
    if executables:
        lines.append("chmod +x -- " + " ".join(shlex.quote(p) for p in executables))
    lines.append("unset PYTHONDONTWRITEBYTECODE")
    exports = sorted((k, v) for k, v in spec.env_vars.items() if re.fullmatch(r"[A-Za-z_]\w*", k))
    lines += [f"export {k}={shlex.quote(v)}" for k, v in exports]
    if "-e" not in spec.install.split() and "develop" not in spec.install:
        # a non-editable install left the base version in site-packages: test the agent's
        lines.append("export PYTHONPATH=/work")
    tests = " ".join(shlex.quote(t) for t in spec.test_files)
    lines.append(f"{spec.test_cmd} {tests} > {REPORT} 2>&1")
    return "\n".join(lines)


def apply_patch(files: dict[str, bytes], patch: str, iid: str, what: str) -> dict:
    """Path -> text after `patch` (None: deleted) for every file the patch touches, applied
    with `git apply` to a scratch copy of those files."""
    touched = patch_files(patch)
    with tempfile.TemporaryDirectory(prefix="dgm-swebench-patch-") as tmp:
        root = Path(tmp)
        for rel in touched:
            if rel in files:
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_bytes(files[rel])
        proc = subprocess.run(
            ["git", "apply", "--whitespace=nowarn", "-"],
            input=patch.encode(), cwd=root, capture_output=True, timeout=120,
        )  # fmt: skip
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip().splitlines()[:1]
            raise BenchmarkError(f"{iid}: its {what} does not apply: {err}")
        out: dict[str, str | None] = {}
        for rel in touched:
            path = root / rel
            try:
                out[rel] = path.read_text(encoding="utf-8") if path.is_file() else None
            except UnicodeDecodeError:
                raise BenchmarkError(f"{iid}: its {what} changes a binary file ({rel})") from None
        return out


def _texts(raw: dict[str, bytes]) -> tuple[dict[str, str], list[str]]:
    """UTF-8 files as text; the others (images, archives) by name."""
    texts: dict[str, str] = {}
    binary: list[str] = []
    for rel, data in raw.items():
        try:
            texts[rel] = data.decode("utf-8")
        except UnicodeDecodeError:
            binary.append(rel)
    return texts, binary


def _settings(path: str | Path | None) -> dict:
    """Options from `path`: a shared-style directory, a dataset file, or a TOML file."""
    if path is None:
        return {}
    path = Path(path).expanduser()
    if path.is_dir():
        found = [path / n for n in ("instances.jsonl", "instances.json") if (path / n).is_file()]
        if not found:
            raise BenchmarkError(f"no instances.jsonl or instances.json in {path}")
        return _siblings(found[0], path)
    if not path.is_file():
        raise BenchmarkError(f"swebench path not found: {path}")
    if path.suffix == ".toml":
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise BenchmarkError(f"{path}: not valid TOML: {exc}") from None
        for key in ("dataset", "repos", "env"):  # relative to the TOML file
            if key in data and (path.parent / data[key]).exists():
                data[key] = str(path.parent / data[key])
        data["lists"] = {k: str(path.parent / v) for k, v in data.get("lists", {}).items()}
        return data
    return _siblings(path, path.parent)


def _siblings(dataset: Path, root: Path) -> dict:
    out: dict = {"dataset": str(dataset)}
    for key, name in (("repos", "repos"), ("env", "env")):
        if (root / name).is_dir():
            out[key] = str(root / name)
    return out
