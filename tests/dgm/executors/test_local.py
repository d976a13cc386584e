"""The executor seam without Ray: jobs as data, logs as bytes, the local thread pool."""

from __future__ import annotations

import pytest

from dgm.executors import (
    ExecutorError,
    Job,
    LocalExecutor,
    make_executor,
    pack_dir,
    unpack_tar,
    write_logs,
)


def test_local_jobs_return_values_and_logs(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    with LocalExecutor(2) as ex:
        futs = [
            ex.submit(
                Job(
                    "sleep",
                    f"j{i}",
                    "dgm.executors.probes:sleep",
                    settings={"seconds": 0.05, "marks": str(marks)},
                )
            )  # fmt: skip
            for i in range(4)
        ]
        results = [f.result(timeout=30) for f in futs]
    assert [r.status for r in results] == ["done"] * 4
    assert {r.node for r in results} == {"local"}
    assert results[0].logs == {"j0.txt": b"slept on local\n"}
    assert len(list(marks.glob("*.end"))) == 4


def test_a_failing_job_raises_its_own_error():
    with LocalExecutor(1) as ex:
        fut = ex.submit(Job("sleep", "bad", "dgm.executors.probes:sleep",
                            settings={"fail": "no docker here"}))  # fmt: skip
        with pytest.raises(RuntimeError, match="no docker here"):
            fut.result(timeout=30)


def test_an_unknown_job_function_or_executor_is_a_one_line_error():
    with LocalExecutor(1) as ex, pytest.raises(ExecutorError, match="module:function"):
        ex.submit(Job("x", "x", "no-colon")).result(timeout=30)
    with pytest.raises(ExecutorError, match="unknown executor 'slurm'"):
        make_executor("slurm", 1)


def test_a_tree_travels_as_a_tar_without_links(tmp_path):
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "agent.py").write_text("print(1)\n")
    (src / "pkg" / "tools.py").write_text("X = 1\n")
    (src / ".complete").write_text("")
    (src / "link").symlink_to("/etc/passwd")
    out = unpack_tar(pack_dir(src), tmp_path / "out")
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert files == ["agent.py", "pkg", "pkg/tools.py"]
    assert (out / "pkg" / "tools.py").read_text() == "X = 1\n"


def test_the_head_refuses_log_paths_outside_the_log_directory(tmp_path):
    write_logs({"node-3/transcript.md": b"ok"}, tmp_path / "logs")
    assert (tmp_path / "logs" / "node-3" / "transcript.md").read_bytes() == b"ok"
    for bad in ("../escape.txt", "/etc/x", "a/../../b"):
        with pytest.raises(ExecutorError, match="outside"):
            write_logs({bad: b"x"}, tmp_path / "logs")
    assert not (tmp_path / "escape.txt").exists()
