"""Nothing outlives its owner: scratch roots locked for a process's life, sweeps that remove
only what dead processes left, and a `remove()` that returns once the container is gone."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from sandbox import Sandbox, SandboxConfig, cleanup
from tests.sandbox.helpers import containers_of

# A process that takes a scratch root, says where, and waits to be killed.
HOLDER = (
    "import sys, time; sys.path.insert(0, sys.argv[1]); from sandbox import cleanup; "
    "print(cleanup.owner().path, flush=True); time.sleep(600)"
)
REPO = str(Path(__file__).resolve().parents[2])


class Holder:
    """A live dgm-like process owning a scratch root (killed by `kill()`)."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, REPO], stdout=subprocess.PIPE, text=True
        )
        self.root = Path(self.proc.stdout.readline().strip())
        assert self.root.is_dir(), "the holder made no scratch root"

    @property
    def label(self) -> str:
        return f"{socket.gethostname()}:{self.root}"

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc.stdout.close()


@pytest.fixture
def holders():
    made: list[Holder] = []
    yield lambda: made.append(Holder()) or made[-1]
    for h in made:
        if h.proc.poll() is None:
            h.kill()


def test_a_root_is_swept_only_once_its_owner_is_dead(holders) -> None:
    live, dead = holders(), holders()
    (dead.root / "dgm-fm-x").mkdir()
    (dead.root / "dgm-fm-x" / "fm.sock").write_text("")
    dead.kill()
    assert cleanup.owner_alive(live.root.name) is True
    assert cleanup.owner_alive(dead.root.name) is False
    cleanup.sweep_roots()
    assert live.root.is_dir(), "a live process's scratch root was removed"
    assert not dead.root.exists(), "a dead process's scratch root was left"
    assert cleanup.owner_alive(dead.root.name) is None


def test_own_root_is_alive_and_removed_at_a_normal_exit() -> None:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from sandbox import cleanup; "
        "import tempfile; root = cleanup.use_for_tempfiles(); "
        "d = tempfile.mkdtemp(prefix='dgm-eval-'); print(root); print(d); "
        "assert cleanup.owner_alive(root.name) is True"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, REPO], capture_output=True, text=True, check=True
    ).stdout.split()
    root, made = Path(out[0]), Path(out[1])
    assert made.parent == root, "tempfile did not use the scratch root"
    assert not root.exists(), "a normal exit left its scratch root"


def _create(image: str, run_id: str, owner: str | None) -> str:
    """A container created and never started, as a kill between create and start leaves."""
    labels = ["--label", "dgm.sandbox=1", "--label", f"dgm.run={run_id}"]
    if owner is not None:
        labels += ["--label", f"dgm.owner={owner}"]
    proc = subprocess.run(
        ["docker", "create", *labels, image, "true"], capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


def _state(cid: str) -> str | None:
    proc = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Status}}", cid], capture_output=True, text=True
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def test_sweep_removes_containers_of_dead_owners_only(image: str, run_id: str, holders) -> None:
    live, dead = holders(), holders()
    gone_root = f"{socket.gethostname()}:/nonexistent/dgm-0/1-{uuid.uuid4().hex[:8]}"
    other_host = f"elsewhere-{uuid.uuid4().hex[:6]}:{dead.root}"
    of_dead = _create(image, run_id, dead.label)
    of_gone = _create(image, run_id, gone_root)
    of_live = _create(image, run_id, live.label)
    unowned = _create(image, run_id, None)  # an older version's: not ours to judge
    foreign = _create(image, run_id, other_host)  # another host sharing the daemon
    dead.kill()
    removed, _ = cleanup.sweep()
    assert removed >= 2
    assert _state(of_dead) is None and _state(of_gone) is None
    assert _state(of_live) == "created"
    assert _state(unowned) == "created" and _state(foreign) == "created"
    assert not dead.root.exists()
    subprocess.run(["docker", "rm", "-f", of_live, unowned, foreign], capture_output=True)


def test_sandbox_containers_carry_their_owner_and_control_dir(image: str, run_id: str) -> None:
    with Sandbox(SandboxConfig(), labels={"dgm.run": run_id}) as sb:
        label = subprocess.run(
            ["docker", "inspect", "-f", '{{index .Config.Labels "dgm.owner"}}', sb.name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert label == cleanup.owner().label
        assert Path(label.partition(":")[2]) == cleanup.owner().path
        assert cleanup.owner_alive(cleanup.owner().token) is True


def test_remove_returns_only_once_the_container_is_gone(image: str, run_id: str) -> None:
    """The runner ends the container as soon as the channel closes, so the daemon's own
    `--rm` removal races `docker rm -f`: whichever wins, `remove()` waits for the end."""
    for background in (False, True):
        for _ in range(6):
            sb = Sandbox(SandboxConfig(background_removal=background), labels={"dgm.run": run_id})
            sb.start()
            assert sb.run(["true"]).exit_code == 0
            sb.remove()
            if background:
                from sandbox import wait_for_removals

                wait_for_removals()
            assert _state(sb.name) is None, f"{sb.name} still exists after remove()"
    assert containers_of(run_id) == []


def test_kill_point_is_inert_unless_named(monkeypatch) -> None:
    monkeypatch.setenv(cleanup.KILL_ENV, "somewhere-else")
    cleanup.kill_point("here")  # still alive
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from sandbox import cleanup; "
        "cleanup.kill_point('here'); print('survived')"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, REPO],
        capture_output=True,
        text=True,
        env={**os.environ, cleanup.KILL_ENV: "here"},
    )
    assert proc.returncode == -signal.SIGKILL and "survived" not in proc.stdout
