"""Nodes as commits: create/open, children from directories and diffs, reading code back."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from archive import Archive, ArchiveError, UnknownNode
from archive.gitstore import EPOCH


def child_dir(archive: Archive, parent: int, dest: Path, changes: dict | None = None) -> Path:
    """The parent's files with some replaced."""
    archive.materialize(parent, dest)
    for name, text in (changes or {}).items():
        (dest / name).write_text(text)
    return dest


def test_create_makes_root_zero_with_the_seed_files(archive: Archive, seed_dir, tmp_path):
    root = archive.root()
    assert root.id == 0 and root.parent is None and root.status == "valid"
    assert (tmp_path / "run" / "archive.git").is_dir()
    assert (tmp_path / "run" / "archive.db").is_file()
    out = archive.materialize(0, tmp_path / "out")
    for f in seed_dir.rglob("*"):
        rel = f.relative_to(seed_dir)
        assert (out / rel).exists()
        if f.is_file():
            assert (out / rel).read_bytes() == f.read_bytes()
    assert (out / "run.sh").stat().st_mode & 0o111, "the executable bit survives"


def test_create_refuses_an_existing_archive_and_a_missing_seed(archive, seed_dir, tmp_path):
    with pytest.raises(ArchiveError, match="holds an archive"):
        Archive.create(tmp_path / "run", seed_dir)
    with pytest.raises(ArchiveError, match="no seed directory"):
        Archive.create(tmp_path / "other", tmp_path / "nope")


def test_open_refuses_what_is_not_a_run(tmp_path):
    with pytest.raises(ArchiveError, match="no run directory"):
        Archive.open(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(ArchiveError, match="not a run directory") as info:
        Archive.open(tmp_path / "plain")
    assert info.value.exit_code == 2


def test_add_child_from_a_directory(archive: Archive, tmp_path):
    d = child_dir(archive, 0, tmp_path / "c", {"agent.py": "new\n"})
    (d / "__pycache__").mkdir()
    (d / "__pycache__" / "x.pyc").write_bytes(b"junk")
    node = archive.add_child(
        0, files_dir=d, entry="HumanEval/3", problem_statement="fix it", status="pending",
        meta={"changed_files": ["agent.py"]},
    )  # fmt: skip
    assert node.id == 1 and node.parent == 0
    got = archive.node(1)
    assert got.commit == node.commit and got.entry == "HumanEval/3"
    assert got.problem_statement == "fix it" and got.status == "pending"
    assert got.meta == {"changed_files": ["agent.py"]}
    out = archive.materialize(1, tmp_path / "out")
    assert (out / "agent.py").read_text() == "new\n"
    assert not (out / "__pycache__").exists()
    git_parent = subprocess.run(
        ["git", "--git-dir", str(archive.git.path), "rev-parse", f"{node.commit}^"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert git_parent == archive.root().commit


def test_add_child_from_a_diff(archive: Archive, tmp_path):
    diff = "--- a/README.md\n+++ b/README.md\n@@ -1 +1,2 @@\n # seed\n+more\n"
    node = archive.add_child(0, diff=diff)
    out = archive.materialize(node.id, tmp_path / "out")
    assert (out / "README.md").read_text() == "# seed\nmore\n"
    assert archive.diff(0, node.id).files == [("README.md", 1, 0)]


def test_a_diff_that_does_not_apply_leaves_nothing(archive: Archive):
    bad = "--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-not there\n+x\n"
    with pytest.raises(ArchiveError, match="does not apply"):
        archive.add_child(0, diff=bad)
    assert [n.id for n in archive.nodes()] == [0]
    assert set(archive.git.refs()) == {0}
    assert archive.check() == []


def test_add_child_needs_one_source_a_known_parent_and_a_valid_status(archive, tmp_path):
    with pytest.raises(ArchiveError, match="exactly one"):
        archive.add_child(0)
    with pytest.raises(UnknownNode):
        archive.add_child(7, diff="")
    with pytest.raises(ArchiveError, match="status"):
        archive.add_child(0, diff="", status="great")


def test_same_trees_give_the_same_commits_in_two_archives(seed_dir, tmp_path):
    runs = []
    for name in ("a", "b"):
        a = Archive.create(tmp_path / name, seed_dir)
        d = child_dir(a, 0, tmp_path / f"{name}-c", {"README.md": "changed\n"})
        a.add_child(0, files_dir=d)
        a.add_child(1, diff="")
        runs.append([n.commit for n in a.nodes()])
    assert runs[0] == runs[1]
    date = subprocess.run(
        ["git", "--git-dir", str(tmp_path / "a" / "archive.git"), "log", "-1", "--format=%at",
         "refs/nodes/2"], capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert int(date) == EPOCH + 2


def test_lineage_children_descendants(archive: Archive):
    for parent in (0, 0, 1, 3, 1):
        archive.add_child(parent, diff="")
    assert archive.children(0) == [1, 2]
    assert archive.children(1) == [3, 5]
    assert archive.descendants(1) == [3, 4, 5]
    assert archive.descendants(4) == []
    assert archive.lineage(4) == [0, 1, 3, 4]
    assert archive.lineage(0) == [0]
    assert Archive.open(archive.run_dir).lineage(4) == [0, 1, 3, 4]
    for call in (archive.children, archive.descendants, archive.lineage, archive.node):
        with pytest.raises(UnknownNode):
            call(99)


def test_set_status(archive: Archive):
    archive.add_child(0, diff="", status="pending")
    archive.set_status(1, "invalid", reason="does not compile")
    n = archive.node(1)
    assert (n.status, n.reason) == ("invalid", "does not compile")
    with pytest.raises(UnknownNode):
        archive.set_status(5, "valid")


def test_diff_and_diffstats(archive: Archive, tmp_path):
    d = child_dir(archive, 0, tmp_path / "c", {"agent.py": "x\n", "tools/shell.py": "y\n"})
    (d / "README.md").unlink()
    archive.add_child(0, files_dir=d)
    diff = archive.diff(0, 1)
    want = [("README.md", 0, 1), ("agent.py", 1, 20), ("tools/shell.py", 1, 2)]
    assert sorted(diff.files) == want
    assert "+x" in diff.text and diff.added == 2 and diff.removed == 23
    assert archive.diffstats()[1] == (3, 2, 23)
    assert archive.node(1).diffstat == (3, 2, 23), "stored once computed"
    assert archive.diff(1, 1).text == ""


def test_materialize_into_an_existing_directory(archive: Archive, tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    archive.materialize(0, dest)
    assert (dest / "tools" / "shell.py").is_file()
    with pytest.raises(UnknownNode):
        archive.materialize(3, tmp_path / "x")


def test_symlinks_are_kept(archive: Archive, tmp_path):
    d = child_dir(archive, 0, tmp_path / "c")
    (d / "link.py").symlink_to("agent.py")
    archive.add_child(0, files_dir=d)
    out = archive.materialize(1, tmp_path / "out")
    assert (out / "link.py").is_symlink() and str((out / "link.py").readlink()) == "agent.py"
    shutil.rmtree(d)


def test_graph_has_edges_and_attributes(archive: Archive):
    archive.add_child(0, diff="", entry="t1")
    archive.record_evaluation(1, "b", "t1", "resolved")
    g = archive.graph()
    assert list(g.edges) == [(0, 1)]
    assert g.nodes[1]["entry"] == "t1" and g.nodes[0]["clade_successes"] == 1
    assert g.nodes[1]["own_trials"] == 1 and g.nodes[1]["commit"] == archive.node(1).commit


def test_trees_and_commits_match_what_git_itself_writes(archive: Archive, seed_dir, tmp_path):
    """Objects made through the hash-object pipes equal git's index/commit-tree results."""
    (seed_dir / "link.md").symlink_to("README.md")
    (seed_dir / "tools" / "deep").mkdir()
    (seed_dir / "tools" / "deep" / "x.py").write_text("x = 1\n")
    (seed_dir / "tools.txt").write_text("sorts before the tools/ tree\n")
    node = archive.add_child(0, files_dir=seed_dir)
    env = {
        "GIT_DIR": str(archive.git.path), "GIT_INDEX_FILE": str(tmp_path / "index"),
        "GIT_WORK_TREE": str(seed_dir), "GIT_AUTHOR_NAME": "dgm", "GIT_COMMITTER_NAME": "dgm",
        "GIT_AUTHOR_EMAIL": "dgm@archive.invalid", "GIT_COMMITTER_EMAIL": "dgm@archive.invalid",
        "GIT_AUTHOR_DATE": f"{EPOCH + 1} +0000", "GIT_COMMITTER_DATE": f"{EPOCH + 1} +0000",
        "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
    }  # fmt: skip

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], env=env, cwd=seed_dir, capture_output=True)
        assert out.returncode == 0, out.stderr
        return out.stdout.decode().strip()

    git("add", "-A", ".")
    tree = git("write-tree")
    assert git("rev-parse", f"{node.commit}^{{tree}}") == tree
    assert git("commit-tree", tree, "-p", archive.root().commit, "-m", "node 1") == node.commit
    assert git("fsck", "--strict", "--no-dangling") == ""


def test_close_ends_the_git_processes(archive: Archive):
    archive.add_child(0, diff="")
    procs = archive.git.repos.running()
    assert procs and all(p.poll() is None for p in procs)
    archive.close()
    assert all(p.poll() is not None for p in procs)
    assert archive.add_child(0, diff="").id == 2, "pipes restart when used again"
