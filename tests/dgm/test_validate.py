"""The host-side checks of a self-modified child (the sandboxed ones run in the e2e test)."""

from __future__ import annotations

from pathlib import Path

from dgm.evolve.validate import static_checks


def agent(root: Path, body: str = "print('agent')\n", marker: bool = False) -> Path:
    root.mkdir(parents=True)
    (root / "agent.py").write_text(body)
    (root / "tools.py").write_text("X = 1\n")
    if marker:  # the workbench marks a fully materialised parent directory
        (root / ".complete").write_text("")
    return root


def test_unchanged_child_of_a_materialised_parent_is_an_empty_diff(tmp_path):
    parent = agent(tmp_path / "parent", marker=True)
    child = agent(tmp_path / "child")
    (child / "__pycache__").mkdir()
    (child / "__pycache__" / "agent.cpython-311.pyc").write_bytes(b"\0")
    verdict = static_checks(parent, child)
    assert not verdict.valid and verdict.reason.startswith("empty diff")


def test_a_real_change_is_counted(tmp_path):
    parent = agent(tmp_path / "parent", marker=True)
    child = agent(tmp_path / "child", body="print('better agent')\n")
    (child / "notes.md").write_text("new\n")
    verdict = static_checks(parent, child)
    assert verdict.valid and verdict.changed_files == 2


def test_deleting_the_entry_point_is_invalid(tmp_path):
    parent = agent(tmp_path / "parent")
    child = agent(tmp_path / "child")
    (child / "agent.py").unlink()
    verdict = static_checks(parent, child)
    assert not verdict.valid and "agent.py was deleted" in verdict.reason
