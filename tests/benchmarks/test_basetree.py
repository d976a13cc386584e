"""The base-tree delta script on the host's Python (the same standard-library code runs in
an image): what equals the tree goes, changes and additions stay, deletions are listed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks.basetree import DELTA, Delta, safe_paths, stage_meta


def make_tree(root: Path) -> None:
    files = {
        "pkg/__init__.py": "",
        "pkg/mod.py": "A = 1\n",
        "pkg/data.bin": "\x00\x01",
        "docs/index.rst": "docs\n",
        "keep/same.txt": "same\n",
        "README": "read me\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def run_delta(base: Path, work: Path, nonce: str = "n1") -> Delta:
    argv = [sys.executable, "-I", "-S", "-B", "-c", DELTA, str(base), str(work),
            f".dgm-delta-{nonce}.json", "262144", "4194304"]  # fmt: skip
    subprocess.run(argv, check=True, cwd="/")
    return Delta.read(work, nonce)


def left(work: Path) -> list[str]:
    return sorted(p.relative_to(work).as_posix() for p in work.rglob("*") if p.is_file())


def test_delta_keeps_only_what_differs(tmp_path):
    base, work = tmp_path / "base", tmp_path / "work"
    make_tree(base)
    shutil.copytree(base, work)
    (work / "pkg/mod.py").write_text("A = 2\n")  # changed (same size: bytes compared)
    (work / "new.py").write_text("B = 1\n")  # added
    (work / "README").unlink()  # deleted
    shutil.rmtree(work / "docs")
    (work / "docs").symlink_to(tmp_path)  # a directory replaced by a link: its files deleted
    (work / "keep").chmod(0o555)  # an unchanged file in a directory made read-only
    try:
        delta = run_delta(base, work)
    finally:
        (work / "keep").chmod(0o755)
    assert left(work) == ["new.py", "pkg/mod.py"]
    assert delta.changed == ("pkg/mod.py",)
    assert set(delta.deleted) == {"README", "docs/index.rst"}
    assert delta.base_texts["pkg/mod.py"] == "A = 1\n" and delta.base_texts["README"] == "read me\n"
    assert not (work / ".dgm-delta-n1.json").exists()  # read and removed


def test_an_unchanged_workspace_leaves_nothing(tmp_path):
    base, work = tmp_path / "base", tmp_path / "work"
    make_tree(base)
    shutil.copytree(base, work)
    delta = run_delta(base, work)
    assert left(work) == [] and delta == Delta()


def test_paths_stay_inside_the_workspace():
    assert safe_paths(["a/b.py", "/etc/passwd", "../x", "a/../../y", ".", "a/./c"]) == [
        "a/b.py",
        "a/c",
    ]
    assert '"deleted": ["a"]' in stage_meta("/work-base", ["a", "/b"])
