"""Tasks whose workspace is a tree inside their image (`Task.base_tree`): seeding /work from
it, and carrying only the agent's delta against it between host and containers.

The tree is a directory of the task's image, root-owned and read-only to the sandbox user;
`Task.files` then holds only what the host adds over it (docs/contracts.md).
- Solve: `SEED` copies the tree into /work before the host's files go in and before the agent
  starts.
- Copy-out: after every agent process is killed, `DELTA` (the image's own Python, `-I -S -B`,
  run from `/`: nothing in the workspace can change what it does) deletes from /work every
  file that is byte for byte the tree's and writes a manifest under a nonce name: the tree's
  files that are gone (`deleted`) or differ (`changed`), with their base text for the diff.
  /work then holds the delta, and only it is copied out.
- Grading: the staged delta (the agent's changed and added files, the hidden tests, the job)
  and the deleted list go to a private directory of a fresh container; `GRADE_SEED` lays the
  tree into /work, removes the deleted files, moves the staged files over them and then
  `exec`s the trusted harness, so no code of the agent runs before the harness has its job.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from pathlib import Path

PYTHON = ("python3", "-I", "-S", "-B", "-c")  # the image's Python, isolated from /work
STAGE = "/tmp/dgm-stage-"  # + nonce: where the grading container receives the staged files
MANIFEST = ".dgm-delta-"  # + nonce + .json, in /work: the agent cannot have made that name
TEXT_FILE_LIMIT = 256 * 1024  # base texts kept for the diff: each file at most ...
TEXT_BUDGET = 4 * 1024 * 1024  # ... and all of them together


def seed_command(base_tree: str) -> list[str]:
    """Copy the base tree into /work (run before the host's files and the agent)."""
    return ["cp", "-a", f"{base_tree.rstrip('/')}/.", "/work/"]


@dataclass(frozen=True)
class Delta:
    """What differs between the base tree and the workspace the agent left."""

    deleted: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    base_texts: dict[str, str] = field(default_factory=dict)
    """Base text of changed and deleted files (within the limits above), for the diff."""

    @classmethod
    def read(cls, result_dir: Path, nonce: str) -> Delta:
        """The manifest DELTA wrote into the copied-out workspace (removed from it)."""
        path = result_dir / f"{MANIFEST}{nonce}.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        path.unlink()
        return cls(
            deleted=tuple(safe_paths(data["deleted"])),
            changed=tuple(safe_paths(data["changed"])),
            base_texts={str(k): str(v) for k, v in data["texts"].items()},
        )


def safe_paths(paths) -> list[str]:
    """Relative paths inside the workspace only (never absolute, never through `..`)."""
    out = []
    for rel in paths:
        norm = posixpath.normpath(str(rel))
        if norm and not norm.startswith(("/", "../")) and norm not in (".", ".."):
            out.append(norm)
    return out


def delta_argv(base_tree: str, nonce: str) -> list[str]:
    name = f"{MANIFEST}{nonce}.json"
    limits = [str(TEXT_FILE_LIMIT), str(TEXT_BUDGET)]
    return [*PYTHON, DELTA, base_tree, "/work", name, *limits]


def grade_argv(nonce: str, harness_command: tuple[str, ...]) -> list[str]:
    """Seed the grading workspace from the staged directory, then exec the harness."""
    return [*PYTHON, GRADE_SEED, f"{STAGE}{nonce}", *harness_command]


def stage_meta(base_tree: str, deleted: list[str]) -> str:
    return json.dumps({"base": base_tree, "deleted": safe_paths(deleted)})


# In-container scripts: the image's python3 (3.9 or newer), standard library only.
DELTA = r"""
import json, os, stat, sys
base, work, name = sys.argv[1], sys.argv[2], sys.argv[3]
per_file, budget = int(sys.argv[4]), int(sys.argv[5])
deleted, changed, texts = [], [], {}

def kind(path):
    try:
        return stat.S_IFMT(os.lstat(path).st_mode)
    except OSError:
        return None

def same(a, b):
    try:
        fd = os.open(b, os.O_RDONLY | os.O_NOFOLLOW)
        with open(a, "rb") as fa, os.fdopen(fd, "rb") as fb:
            while True:
                x, y = fa.read(1 << 20), fb.read(1 << 20)
                if x != y:
                    return False
                if not x:
                    return True
    except OSError:
        return False

def keep(rel, path, size):
    global budget
    if size > per_file or size > budget:
        return
    try:
        with open(path, "rb") as f:
            texts[rel] = f.read().decode("utf-8")
        budget -= size
    except (OSError, UnicodeDecodeError):
        pass

def unlink(path):
    try:
        os.unlink(path)
    except PermissionError:  # the agent took write permission from a directory it owns
        parent = os.path.dirname(path)
        os.chmod(parent, stat.S_IMODE(os.lstat(parent).st_mode) | 0o700)
        os.unlink(path)

real = {"": kind(work) == stat.S_IFDIR}  # a directory of the tree is still a real directory
for root, dirs, files in os.walk(base):
    dirs.sort()
    top = os.path.relpath(root, base)
    top = "" if top == "." else top
    for d in dirs:
        rel = os.path.join(top, d)
        real[rel] = real[top] and kind(os.path.join(work, rel)) == stat.S_IFDIR
    for fn in sorted(files):
        rel = os.path.join(top, fn)
        src, dst = os.path.join(base, rel), os.path.join(work, rel)
        st = os.lstat(src)
        if not stat.S_ISREG(st.st_mode):
            continue
        if not real[top] or kind(dst) != stat.S_IFREG:
            deleted.append(rel)
            keep(rel, src, st.st_size)
            continue
        if os.lstat(dst).st_size == st.st_size and same(src, dst):
            try:
                unlink(dst)
                continue
            except OSError:
                pass
        changed.append(rel)
        keep(rel, src, st.st_size)
data = json.dumps({"deleted": deleted, "changed": changed, "texts": texts}).encode()
try:
    fd = os.open(os.path.join(work, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
except OSError as exc:
    sys.exit("dgm-delta: cannot write the manifest: %s" % exc)
"""

GRADE_SEED = r"""
import json, os, shutil, subprocess, sys
stage = sys.argv[1]
with open(os.path.join(stage, "delta.json")) as f:
    meta = json.load(f)
if subprocess.run(["cp", "-a", meta["base"].rstrip("/") + "/.", "/work/"]).returncode:
    raise RuntimeError("cannot copy the base tree into /work")  # a grader failure
for rel in meta["deleted"]:
    path = os.path.join("/work", rel)
    if os.path.lexists(path) and not os.path.isdir(path):
        os.unlink(path)
staged = os.path.join(stage, "work")
for root, dirs, files in os.walk(staged):
    for fn in files:
        rel = os.path.relpath(os.path.join(root, fn), staged)
        parts = rel.split("/")
        for i in range(1, len(parts)):  # a base file where the delta has a directory
            up = os.path.join("/work", *parts[:i])
            if os.path.lexists(up) and not os.path.isdir(up):
                os.unlink(up)
        dst = os.path.join("/work", rel)
        if os.path.isdir(dst):  # a base directory where the delta has a file
            shutil.rmtree(dst)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.move(os.path.join(root, fn), dst)
shutil.rmtree(stage, ignore_errors=True)
os.chdir("/work")
os.execvp(sys.argv[2], sys.argv[2:])
"""
