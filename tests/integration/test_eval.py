"""`dgm eval` end to end: the real CLI, real Docker, the seed agent with `sim`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dgm.run.eval_agent import run_eval
from tests.sandbox.helpers import interruptible

pytestmark = pytest.mark.docker

DGM = [sys.executable, "-m", "dgm"]
ENV = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "120"}


def dgm(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*DGM, *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600
    )


def containers(run_id: str) -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=dgm.run={run_id}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return out.split()


def test_eval_reports_rate_and_writes_logs(tmp_path, docker_daemon):
    out = tmp_path / "out"
    proc = dgm(
        "eval", "--agent", "seed", "--benchmark", "humaneval", "--subset", "small",
        "--model", "sim", "--workers", "2", "--limit", "4", "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "resolved (" in proc.stdout and "/4 resolved" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert sum(summary["counts"].values()) == 4 and summary["tokens"] > 0
    for task_id, result in summary["results"].items():
        assert result["outcome"] in ("resolved", "unresolved"), (task_id, result)
        assert (Path(result["log_path"]) / "transcript.md").is_file()


def test_unknown_benchmark_is_one_line_exit_2(tmp_path):
    proc = dgm("eval", "--benchmark", "nope", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: unknown benchmark 'nope' (choose humaneval, bugfix, polyglot, swebench)"
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"subset": "huge"}, "unknown subset 'huge'"),
        ({"agent": "/no/such/agent"}, "agent directory not found"),
        ({"agent": "/"}, "not an agent directory"),
        ({"benchmark": "polyglot"}, "polyglot needs a local checkout"),
    ],
)
def test_bad_requests_fail_before_any_sandbox(tmp_path, kwargs, message):
    request = {"agent": "seed", "benchmark": "humaneval", "subset": "small", **kwargs}
    with pytest.raises(Exception, match=message) as info:
        run_eval(
            request.pop("agent"),
            request.pop("benchmark"),
            request.pop("subset"),
            out=tmp_path / "out",
        )
    assert info.value.exit_code == 2 and "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()


def test_ctrl_c_stops_and_leaves_no_container(tmp_path, docker_daemon):
    agent = tmp_path / "slow-agent"
    agent.mkdir()
    (agent / "agent.py").write_text("import time\ntime.sleep(300)\n")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [*DGM, "eval", "--agent", str(agent), "--workers", "2", "--out", str(out)],
        cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=interruptible,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(_own_containers(proc.pid)) < 2:
            time.sleep(0.5)
        assert _own_containers(proc.pid), "no sandbox started"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=90)
    finally:
        proc.kill()  # a no-op after a clean stop; never leave a run behind on failure
    assert proc.returncode == 130, err
    run_id = json.loads((out / "summary.json").read_text())["run_id"]
    assert json.loads((out / "summary.json").read_text())["interrupted"] is True
    assert containers(run_id) == []


def _own_containers(pid: int) -> list[str]:
    """Sandboxes of the `dgm eval` process `pid` (others may run sandboxes meanwhile): their
    `dgm.owner` label names its scratch root, `host:/tmp/dgm-UID/<pid>-<hex>`."""
    out = subprocess.run(
        ["docker", "ps", "--filter", "label=dgm.role=solve", "--format",
         '{{.Label "dgm.owner"}}'], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [o for o in out.split() if Path(o.partition(":")[2]).name.startswith(f"{pid}-")]
