"""The repository through GitPython: a `Repo` per thread and process, long-running processes
that end with their thread, their archive or a failure, and an environment of our own."""

from __future__ import annotations

import gc
import multiprocessing
import os
import subprocess
import threading
from pathlib import Path

import git
import pytest

from archive import Archive, ArchiveError


def test_each_thread_has_its_own_repo_and_processes_that_end_with_it(archive: Archive):
    archive.add_child(0, diff="")
    main_repo = archive.git.repos.repo()
    assert isinstance(main_repo, git.Repo) and main_repo.bare
    main_procs = archive.git.repos.running()
    seen: dict[str, object] = {}

    def work() -> None:
        archive.add_child(0, diff="")
        seen["repo"] = archive.git.repos.repo()
        seen["procs"] = list(archive.git.repos.running())

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen["repo"] is not main_repo, "GitPython objects are never shared by threads"
    theirs = [p for p in seen["procs"] if p not in main_procs]
    del thread
    gc.collect()
    assert theirs and all(p.poll() is not None for p in theirs), "the thread took its own"
    assert all(p.poll() is None for p in main_procs), "the main thread's live on"
    assert archive.check() == []


def test_a_dropped_archive_leaves_no_process_behind(tmp_path: Path, seed_dir: Path):
    archive = Archive.create(tmp_path / "run", seed_dir)
    archive.materialize(archive.add_child(0, files_dir=seed_dir).id, tmp_path / "out")
    procs = archive.git.repos.running()
    assert len(procs) >= 4 and all(p.poll() is None for p in procs)
    del archive
    gc.collect()
    assert all(p.poll() is not None for p in procs), "GitPython ends what nobody holds"


def _add_in_child(run_dir: str, out: multiprocessing.Queue) -> None:
    archive = Archive.open(run_dir)
    out.put(archive.add_child(0, diff="").id)


def test_a_forked_child_opens_its_own_repo_and_spares_the_parents(archive: Archive):
    archive.add_child(0, diff="")
    procs = archive.git.repos.running()
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_add_in_child, args=(str(archive.run_dir), out))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0 and out.get(timeout=5) == 2
    assert all(p.poll() is None for p in procs), "the child ended none of the parent's"
    assert archive.add_child(0, diff="").id == 3 and archive.check() == []


def test_the_callers_git_environment_does_not_leak_in(archive: Archive, tmp_path, monkeypatch):
    other = tmp_path / "other.git"
    subprocess.run(["git", "init", "-q", "--bare", str(other)], check=True)
    monkeypatch.setenv("GIT_DIR", str(other))
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "their-index"))
    fresh = Archive.open(archive.run_dir)  # new processes, started under this environment
    node = fresh.add_child(0, diff="--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-# seed\n+# x\n")
    assert fresh.diff(0, node.id).files == [("README.md", 1, 1)]
    assert fresh.check() == []
    assert not (tmp_path / "their-index").exists()
    assert not list((other / "objects").glob("??")), "nothing was written to their repository"
    fresh.close()


def test_a_failing_process_is_one_clear_error_and_the_next_request_restarts_it(
    archive: Archive, tmp_path
):
    repos = archive.git.repos
    with pytest.raises(ArchiveError, match=r"^git hash-object failed: .*could not open"):
        repos.write_files([tmp_path / "no-such-file"])
    with pytest.raises(ArchiveError, match="is missing from git"):
        repos.read_objects(["0" * 40])
    assert repos.missing(["0" * 40, archive.root().commit]) == {"0" * 40}
    assert archive.add_child(0, diff="").id == 1 and archive.check() == []


def test_a_run_directory_whose_git_is_no_repository_is_one_clear_error(archive: Archive):
    archive.close()
    git_dir = archive.run_dir / "archive.git"
    for entry in git_dir.iterdir():
        subprocess.run(["rm", "-rf", str(entry)], check=True)
    broken = Archive(archive.run_dir, type(archive.git)(git_dir), archive.db)
    with pytest.raises(ArchiveError, match="is not a git repository"):
        broken.materialize(0, archive.run_dir / "out")
    assert os.path.isdir(git_dir)


def test_relative_paths_mean_the_callers_directory(tmp_path: Path, seed_dir: Path, monkeypatch):
    """GitPython runs git inside the repository: every path we hand it is made absolute."""
    monkeypatch.chdir(tmp_path)
    archive = Archive.create("run", Path("seed"))
    node = archive.add_child(0, files_dir=Path("seed"), meta={"copy": True})
    reopened = Archive.open("run")
    out = reopened.materialize(node.id, "out")
    assert (out / "agent.py").read_bytes() == (seed_dir / "agent.py").read_bytes()
    assert reopened.check() == [] and reopened.diff(0, node.id).files == []
    archive.close()
    reopened.close()
