"""SWE-bench-format records, their environments and their repositories, read on the host.

- Records: a local `.json` (a list) or `.jsonl` file, or a Hugging Face dataset name loaded
  with the `datasets` library where a network reaches it (imported only then).
- Environments: `<env_dir>/<instance_id>.json` (python, pip, install, test_cmd, test_files,
  notes) wins; otherwise the `swebench` package's `MAP_REPO_VERSION_TO_SPECS` (an optional
  extra, imported lazily) where it names its pip packages directly.
- Repositories at `base_commit`: a tarball `<repos>/<instance_id>.tar.gz` (one top folder),
  a git mirror `<repos>/<owner>__<name>.git` or `<repos>/<owner>/<name>`, or, with
  `clone=True`, a clone over the network into a cache.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.base import BenchmarkError

PYTHON_RELEASES = {"3.11": "bookworm", "3.9": "bullseye"}  # Debian release shipping each
REQUIRED = ("instance_id", "repo", "base_commit", "patch", "test_patch", "problem_statement")
DIFF_FILE = re.compile(r"^diff --git a/(\S+) b/(\S+)$", re.MULTILINE)
MAX_REPO_BYTES = 512 * 1024 * 1024  # a repository bigger than this is not a coding task here


def load_records(dataset: str | Path, split: str = "test") -> list[dict]:
    """The records of a JSON/JSONL file, or of a Hugging Face dataset `split`."""
    path = Path(dataset).expanduser()
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        try:
            if path.suffix == ".jsonl":
                records = [json.loads(line) for line in text.splitlines() if line.strip()]
            else:
                records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BenchmarkError(f"{path}: not valid JSON: {exc}") from None
    elif path.suffix in (".json", ".jsonl") or path.exists():
        raise BenchmarkError(f"SWE-bench dataset file not found: {path}")
    else:
        records = _load_hub(str(dataset), split)
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise BenchmarkError(f"{dataset}: expected a list of SWE-bench records")
    for record in records:
        missing = [k for k in REQUIRED if k not in record]
        if missing:
            iid = record.get("instance_id", "?")
            raise BenchmarkError(f"{dataset}: record {iid} lacks '{missing[0]}'")
        for key in ("FAIL_TO_PASS", "PASS_TO_PASS"):  # the hub stores these as JSON strings
            value = record.get(key, [])
            record[key] = json.loads(value) if isinstance(value, str) else list(value)
    return records


def _load_hub(name: str, split: str) -> list[dict]:
    try:
        import datasets  # optional: only for a dataset given by name
    except ImportError:
        raise BenchmarkError(
            f"'{name}' is not a file; loading a dataset by name needs the `datasets` package"
        ) from None
    try:
        return [dict(r) for r in datasets.load_dataset(name, split=split)]
    except Exception as exc:  # noqa: BLE001 - the hub's errors are many; one line for the user
        raise BenchmarkError(f"cannot load dataset {name} ({split}): {exc}") from None


def patch_files(patch: str) -> list[str]:
    """Paths a unified git diff touches (new side)."""
    return [b for _, b in DIFF_FILE.findall(patch)]


@dataclass(frozen=True)
class EnvSpec:
    """How an instance's environment is built and its tests run."""

    python: str
    pip: tuple[str, ...]
    install: str
    test_cmd: str
    test_files: tuple[str, ...]
    network_tests: tuple[str, ...] = ()
    """Tests that cannot pass without a network: excluded from the verdict, visibly."""
    source: str = ""
    env_vars: dict[str, str] = field(default_factory=dict)
    """Exported before the tests run (swebench's `eval_commands` exports, e.g. LANG)."""
    pre_install: tuple[str, ...] = ()
    """Commands run as root in the environment's build before the venv (e.g. locales)."""

    @property
    def release(self) -> str:
        return PYTHON_RELEASES[self.python]

    def env_key(self, repo: str, version: str) -> str:
        """A content hash of what the environment image holds (not the repository)."""
        parts: list = [repo, version, self.python, sorted(self.pip)]
        if self.pre_install:  # only then: the hashes of existing images stay as they were
            parts.append(list(self.pre_install))
        data = json.dumps(parts)
        return hashlib.sha256(data.encode()).hexdigest()[:12]


def load_env(
    record: dict,
    env_dir: Path | None,
    read_repo: Callable[[str], bytes | None] | None = None,
    python_map: dict[str, str] | None = None,
) -> EnvSpec:
    """The instance's environment: its env file when there is one, else swebench's specs
    (`read_repo` reads a file of the repository at base_commit, for specs that take their
    requirements from it). A Python other than 3.9 / 3.11 is refused, naming the instance
    and the version, unless `python_map` (the `python_map` table of a swebench.toml) maps
    it to one of them; the mapping then shows in `source`."""
    from benchmarks.swebench.specs import swebench_spec, test_directives

    iid = record["instance_id"]
    if env_dir is not None and (env_dir / f"{iid}.json").is_file():
        try:
            data = json.loads((env_dir / f"{iid}.json").read_text())
        except json.JSONDecodeError as exc:
            raise BenchmarkError(f"{iid}: bad environment file: {exc}") from None
        source = f"env file {env_dir / f'{iid}.json'}"
    else:
        data = swebench_spec(record, read_repo)
        source = "swebench MAP_REPO_VERSION_TO_SPECS"
    asked = str(data.get("python", ""))
    python = (python_map or {}).get(asked, asked)
    if python not in PYTHON_RELEASES:
        raise BenchmarkError(
            f"{iid}: its environment ({source}) asks for Python {asked or '(none)'}, but only "
            "3.9 (bullseye) and 3.11 (bookworm) images can be built: give it an environment "
            f"file {iid}.json with one of those, or map {asked or 'it'} in python_map"
        )
    if python != asked:
        source += f" (Python {asked} run as {python} by python_map)"
    notes = data.get("notes") or {}
    test_cmd = str(data["test_cmd"])
    test_files = data.get("test_files") or test_directives(record, test_cmd)
    return EnvSpec(
        python=python,
        pip=tuple(data.get("pip") or ()),
        install=str(data.get("install") or ""),
        test_cmd=test_cmd,
        test_files=tuple(test_files),
        network_tests=tuple(notes.get("flaky_or_network") or ()),
        source=source,
        env_vars=dict(data.get("env_vars") or {}),
        pre_install=tuple(data.get("pre_install") or ()),
    )


class RepoSource:
    """Where the repositories come from: a directory of tarballs or git mirrors, or clones."""

    def __init__(self, repos: Path | None, clone: bool = False, cache: Path | None = None):
        self.repos, self.clone = repos, clone
        self.cache = cache or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        self.cache = self.cache / "dgm" / "swebench" / "clones"

    def files(self, record: dict) -> tuple[dict[str, bytes], dict[str, int]]:
        """(relative path -> bytes, relative path -> mode) of every regular file of the
        repository at base_commit."""
        iid = record["instance_id"]
        if self.repos is not None:
            tarball = self.repos / f"{iid}.tar.gz"
            if tarball.is_file():
                return _read_tar(tarball.read_bytes(), iid, strip_top=True)
            owner, _, name = record["repo"].partition("/")
            for mirror in (self.repos / f"{owner}__{name}.git", self.repos / owner / name):
                if mirror.is_dir():
                    return self._git_archive(mirror, record)
        if self.clone:
            return self._git_archive(self._cloned(record), record)
        where = self.repos or "no repository directory"
        raise BenchmarkError(f"{iid}: repository not found ({where}; cloning is off)")

    def _git_archive(self, git_dir: Path, record: dict) -> tuple[dict, dict]:
        proc = subprocess.run(
            ["git", "-C", str(git_dir), "archive", "--format=tar", record["base_commit"]],
            capture_output=True, timeout=600,
        )  # fmt: skip
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip().splitlines()[-1:]
            raise BenchmarkError(f"{record['instance_id']}: git archive failed: {err}")
        return _read_tar(proc.stdout, record["instance_id"], strip_top=False)

    def _cloned(self, record: dict) -> Path:
        dest = self.cache / (record["repo"].replace("/", "__") + ".git")
        if not dest.is_dir():
            dest.parent.mkdir(parents=True, exist_ok=True)
            url = f"https://github.com/{record['repo']}.git"
            proc = subprocess.run(
                ["git", "clone", "--bare", "--quiet", url, str(dest)],
                capture_output=True, text=True, timeout=3600,
            )  # fmt: skip
            if proc.returncode != 0:
                msg = f"{record['instance_id']}: git clone failed: {proc.stderr[-200:]}"
                raise BenchmarkError(msg)
        return dest


def _read_tar(data: bytes, iid: str, strip_top: bool) -> tuple[dict, dict]:
    """Regular files of a tar archive and their modes (links and devices skipped)."""
    files: dict[str, bytes] = {}
    modes: dict[str, int] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar:
                if not member.isfile():
                    continue
                parts = Path(member.name).parts
                if strip_top:
                    parts = parts[1:]
                if not parts or ".." in parts or Path(member.name).is_absolute():
                    continue
                total += member.size
                if total > MAX_REPO_BYTES:
                    raise BenchmarkError(f"{iid}: repository larger than {MAX_REPO_BYTES} bytes")
                extracted = tar.extractfile(member)
                if extracted is not None:
                    files[Path(*parts).as_posix()] = extracted.read()
                    modes[Path(*parts).as_posix()] = 0o755 if member.mode & 0o111 else 0o644
    except tarfile.TarError as exc:
        raise BenchmarkError(f"{iid}: unreadable repository archive: {exc}") from None
    return files, modes
