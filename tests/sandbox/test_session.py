"""Functional tests of Sandbox sessions: transfer, run, limits, labels, mounts, clean-up."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from sandbox import (
    IMAGE_NAME,
    ImageMissing,
    LimitExceeded,
    RunResult,
    Sandbox,
    SandboxConfig,
    SandboxError,
    ensure_image,
    image_ready,
    remove_orphans,
)

pytestmark = pytest.mark.docker

MiB = 1024 * 1024
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cfg() -> SandboxConfig:
    return SandboxConfig(
        memory_mb=256,
        cpus=0.5,
        pids=64,
        tmpfs_mb=16,
        workspace_mb=32,
        command_timeout=10,
        session_timeout=120,
        output_limit=4000,
    )


def containers_of(run_id: str, running_only: bool = False) -> list[str]:
    args = ["docker", "ps", "-q", "--filter", f"label=dgm.run={run_id}"]
    if not running_only:
        args.insert(2, "-a")
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout.split()


def inspect(container: str) -> dict:
    out = subprocess.run(
        ["docker", "inspect", container], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)[0]


def labels(run_id: str) -> dict[str, str]:
    return {"dgm.run": run_id, "dgm.node": "3", "dgm.task": "HumanEval/0"}


def test_ensure_image_is_idempotent(image: str) -> None:
    def image_id() -> str:
        return subprocess.run(
            ["docker", "image", "inspect", "-f", "{{.Id}}", image],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    first = image_id()
    assert ensure_image() == image == IMAGE_NAME
    assert ensure_image() == IMAGE_NAME
    assert image_id() == first  # not rebuilt
    assert image_ready()


def test_round_trip_copy_in_run_copy_out(
    image: str, cfg: SandboxConfig, run_id: str, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    (src / "pkg" / "deep").mkdir(parents=True)
    (src / "main.py").write_text("print('main')\n")
    (src / "pkg" / "deep" / "data.bin").write_bytes(bytes(range(256)) * 10)
    (src / "pkg" / "ünïcode name.txt").write_text("ü\n", encoding="utf-8")
    script = src / "run.sh"
    script.write_text("#!/bin/sh\necho from-script\n")
    script.chmod(0o755)
    dest = tmp_path / "dest"
    dest.mkdir()
    with Sandbox(cfg, labels=labels(run_id)) as sb:
        sb.copy_in(src, "/work")
        res = sb.run(["python3", "main.py"], cwd="/work")
        assert isinstance(res, RunResult)
        assert (res.exit_code, res.stdout) == (0, "main\n")
        assert sb.run(["./run.sh"], cwd="/work").stdout == "from-script\n"
        edit = "open('main.py','a').write('# edited\\n'); open('pkg/new.txt','w').write('new')"
        assert sb.run(["python3", "-c", edit], cwd="/work").exit_code == 0
        sb.copy_out("/work", dest)
    assert (dest / "main.py").read_text() == "print('main')\n# edited\n"
    assert (dest / "pkg" / "new.txt").read_text() == "new"
    assert (dest / "pkg" / "deep" / "data.bin").read_bytes() == bytes(range(256)) * 10
    assert (dest / "pkg" / "ünïcode name.txt").read_text(encoding="utf-8") == "ü\n"
    assert os.access(dest / "run.sh", os.X_OK)


def test_copied_in_files_belong_to_the_sandbox_user(
    image: str, cfg: SandboxConfig, run_id: str, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "a.txt").write_text("a")
    script = """
        import os
        open("/work/sub/a.txt", "a").write("b")
        open("/work/sub/b.txt", "w").write("c")
        os.remove("/work/sub/b.txt")
        os.mkdir("/work/newdir")
        print(os.stat("/work/sub/a.txt").st_uid, os.stat("/work").st_uid)
    """
    with Sandbox(cfg, labels=labels(run_id)) as sb:
        sb.copy_in(src, "/work")
        res = sb.run(["python3", "-c", textwrap.dedent(script)])
    assert res.exit_code == 0, res.stderr
    assert res.stdout.split() == ["1000", "1000"]


def test_run_reports_exit_code_streams_cwd_env(image: str, cfg: SandboxConfig, run_id: str) -> None:
    script = "import os,sys; print(os.getcwd(), os.environ['DGM_MODEL'], os.environ['HOME']);"
    script += "print('to-err', file=sys.stderr); sys.exit(7)"
    with Sandbox(cfg, labels=labels(run_id), env={"DGM_MODEL": "sim"}) as sb:
        res = sb.run(["python3", "-c", script], cwd="/out", timeout=10)
        missing = sb.run(["no-such-command-xyz"], timeout=10)
        layout = sb.run(["sh", "-c", "touch /work/a /out/b /tmp/c && id -u"])
    assert res.exit_code == 7
    assert res.stdout == "/out sim /tmp\n"
    assert res.stderr == "to-err\n"
    assert not res.timed_out and not res.oom_killed
    assert 0 < res.duration < 10
    assert missing.exit_code != 0
    assert (layout.exit_code, layout.stdout) == (0, "1000\n"), layout.stderr


def test_long_output_keeps_head_and_tail(image: str, cfg: SandboxConfig, run_id: str) -> None:
    script = "print('HEAD'); print('x' * 1_000_000); print('TAIL')"
    with Sandbox(cfg, labels=labels(run_id)) as sb:
        res = sb.run(["python3", "-c", script])
    assert res.exit_code == 0
    assert res.stdout.startswith("HEAD\n")
    assert res.stdout.endswith("TAIL\n")
    assert len(res.stdout) <= cfg.output_limit + 1024


def test_limits_are_applied_to_the_container(image: str, cfg: SandboxConfig, run_id: str) -> None:
    cgroup = """
        import os
        for path in ("memory/memory.limit_in_bytes", "memory.max", "pids/pids.max", "pids.max",
                     "cpu/cpu.cfs_quota_us", "cpu,cpuacct/cpu.cfs_quota_us", "cpu.max"):
            full = "/sys/fs/cgroup/" + path
            if os.path.exists(full):
                print(path, open(full).read().strip())
        print("df", os.statvfs("/tmp").f_blocks * os.statvfs("/tmp").f_frsize)
        print("dfw", os.statvfs("/work").f_blocks * os.statvfs("/work").f_frsize)
    """
    with Sandbox(cfg, labels=labels(run_id)) as sb:
        (cid,) = containers_of(run_id, running_only=True)
        info = inspect(cid)
        res = sb.run(["python3", "-c", textwrap.dedent(cgroup)])
    host = info["HostConfig"]
    assert host["Memory"] == cfg.memory_mb * MiB
    assert host["MemorySwap"] in (cfg.memory_mb * MiB, 0) or host["MemorySwap"] == host["Memory"]
    assert host["PidsLimit"] == cfg.pids
    assert host["NanoCpus"] == int(cfg.cpus * 1e9) or host["CpuQuota"] == int(
        cfg.cpus * host.get("CpuPeriod", 100_000) or 100_000
    )
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert [c.upper() for c in host["CapDrop"]] in (["ALL"], ["CAP_ALL"])
    assert not host.get("CapAdd")
    assert any("no-new-privileges" in opt for opt in host["SecurityOpt"])
    assert not host.get("Privileged")
    assert info["Config"]["User"].split(":")[0] in ("1000", "agent")
    out = dict(line.split(" ", 1) for line in res.stdout.splitlines())
    mem = out.get("memory/memory.limit_in_bytes") or out.get("memory.max")
    assert mem == str(cfg.memory_mb * MiB)
    assert (out.get("pids/pids.max") or out.get("pids.max")) == str(cfg.pids)
    assert int(out["df"]) <= cfg.tmpfs_mb * MiB
    assert int(out["dfw"]) <= cfg.workspace_mb * MiB


def test_labels_are_set(image: str, cfg: SandboxConfig, run_id: str) -> None:
    with Sandbox(cfg, labels=labels(run_id)) as sb:
        sb.run(["true"])
        (cid,) = containers_of(run_id)
        got = inspect(cid)["Config"]["Labels"]
    for key, value in labels(run_id).items():
        assert got[key] == value
    assert containers_of(run_id) == []


def test_read_only_mounts_and_fm_socket(
    image: str, cfg: SandboxConfig, run_id: str, tmp_path: Path
) -> None:
    agent = tmp_path / "agent"
    agent.mkdir()
    (agent / "agent.py").write_text("print('agent here')\n")
    sock_dir = tmp_path / "fm"
    sock_dir.mkdir()
    sock_dir.chmod(0o755)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock_dir / "fm.sock"))
    (sock_dir / "fm.sock").chmod(0o666)  # the sandbox user (uid 1000) must connect
    server.listen(1)
    server.settimeout(20)

    def answer() -> None:
        try:
            conn, _ = server.accept()
            with conn:
                conn.sendall(b"pong:" + conn.recv(100))
        except OSError:
            pass

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    client = """
        import socket
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect("/fm/fm.sock")
        s.sendall(b"ping")
        print(s.recv(100).decode())
    """
    try:
        mounts = {agent: "/agent"}
        with Sandbox(cfg, labels=labels(run_id), ro_mounts=mounts, socket_dir=sock_dir) as sb:
            ran = sb.run(["python3", "/agent/agent.py"])
            write = sb.run(["sh", "-c", "echo x > /agent/agent.py || echo x > /fm/new"])
            talk = sb.run(["python3", "-c", textwrap.dedent(client)], timeout=20)
    finally:
        thread.join(timeout=5)
        server.close()
    assert ran.stdout == "agent here\n"
    assert write.exit_code != 0
    assert (agent / "agent.py").read_text() == "print('agent here')\n"
    assert sorted(p.name for p in sock_dir.iterdir()) == ["fm.sock"]
    assert talk.stdout.strip() == "pong:ping", talk.stderr


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("rm -f /usr/bin/python3*", "python3"),  # docker run itself fails
        ("rm -f /usr/bin/python3* && printf '#!/bin/sh\\nexit 1\\n' > /usr/bin/python3 && "
         "chmod +x /usr/bin/python3", "before its runner started"),  # the container dies
    ],
    ids=["no-python", "python-dies"],
)  # fmt: skip
def test_an_image_whose_runner_cannot_start_is_a_quick_clear_error(
    image: str, cfg: SandboxConfig, run_id: str, script: str, message: str
) -> None:
    # The runner (PID 1) needs python3. Without one that works, the start must say so within
    # seconds instead of waiting out the connect timeout.
    tag = f"dgm-test-broken:{uuid.uuid4().hex[:8]}"
    maker = f"dgm-test-mk-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "run", "--name", maker, "--user", "0", image, "sh", "-c", script],
                   check=True, capture_output=True)  # fmt: skip
    try:
        subprocess.run(["docker", "commit", maker, tag], check=True, capture_output=True)
        start = time.monotonic()
        with pytest.raises(SandboxError, match=message) as err:
            Sandbox(cfg.model_copy(update={"image": tag}), labels=labels(run_id)).start()
        assert time.monotonic() - start < 10
        assert "\n" not in str(err.value)
    finally:
        subprocess.run(["docker", "rm", "-f", maker], capture_output=True)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


def test_missing_image_raises(cfg: SandboxConfig, run_id: str, docker_daemon: None) -> None:
    bad = cfg.model_copy(update={"image": f"dgm-no-such-image:{uuid.uuid4().hex[:8]}"})
    with pytest.raises(ImageMissing), Sandbox(bad, labels=labels(run_id)):
        pass


def test_transfer_limit(image: str, run_id: str, tmp_path: Path) -> None:
    small = SandboxConfig(transfer_limit_mb=1, command_timeout=10, pids=64, memory_mb=256)
    big = tmp_path / "big"
    big.mkdir()
    (big / "blob").write_bytes(os.urandom(2 * MiB))
    dest = tmp_path / "dest"
    dest.mkdir()
    with Sandbox(small, labels=labels(run_id)) as sb:
        with pytest.raises(LimitExceeded):
            sb.copy_in(big, "/work")
        sb.run(["sh", "-c", "head -c 3000000 /dev/urandom > /work/blob"])
        with pytest.raises(LimitExceeded):
            sb.copy_out("/work", dest)
    assert not (dest / "blob").exists() or (dest / "blob").stat().st_size < 3_000_000


def _host_with_a_sandbox(run_id: str, session_timeout: float) -> subprocess.Popen:
    """A child process that holds an open Sandbox (no clean-up code will run in it)."""
    code = textwrap.dedent(
        f"""
        import time
        from sandbox import Sandbox, SandboxConfig
        cfg = SandboxConfig(session_timeout={session_timeout})
        sb = Sandbox(cfg, labels={{"dgm.run": {run_id!r}}})
        sb.__enter__()
        print("ready", flush=True)
        time.sleep(600)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env)
    assert proc.stdout.readline().strip() == b"ready"
    return proc


def _until(predicate, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.2)
    return predicate()


def test_a_host_killed_with_sigkill_leaves_no_container(image: str, run_id: str) -> None:
    # The kernel closes the dead host's channel; the runner ends the container; --rm removes it.
    host = _host_with_a_sandbox(run_id, session_timeout=120)
    assert len(containers_of(run_id)) == 1
    host.kill()
    host.wait(timeout=10)
    assert _until(lambda: containers_of(run_id) == [])


def test_remove_orphans_removes_only_that_run(image: str, run_id: str) -> None:
    # A frozen host keeps its channel open, so its containers stay until removed by label.
    other = f"{run_id}-other"
    hosts = [_host_with_a_sandbox(run_id, 120), _host_with_a_sandbox(other, 120)]
    for host in hosts:
        host.send_signal(signal.SIGSTOP)
    try:
        assert len(containers_of(run_id)) == 1
        assert remove_orphans(run_id) == 1
        assert containers_of(run_id) == []
        assert len(containers_of(other)) == 1
        assert remove_orphans(run_id) == 0
    finally:
        remove_orphans(other)
        for host in hosts:
            host.kill()
            host.wait(timeout=10)
    assert containers_of(other) == []


def test_session_timeout_ends_the_sandbox_of_a_frozen_host(image: str, run_id: str) -> None:
    host = _host_with_a_sandbox(run_id, session_timeout=2)
    host.send_signal(signal.SIGSTOP)
    try:
        assert _until(lambda: containers_of(run_id, running_only=True) == [])
    finally:
        host.kill()
        host.wait(timeout=10)
        remove_orphans(run_id)


def test_misuse_raises_sandbox_errors(
    image: str, cfg: SandboxConfig, run_id: str, tmp_path: Path
) -> None:
    # Every failure the caller can cause is a SandboxError (one line, with exit_code).
    with Sandbox(cfg, labels=labels(run_id)) as sb:
        with pytest.raises(SandboxError):
            sb.copy_in(tmp_path / "no-such-dir", "/work")
        with pytest.raises(SandboxError):
            sb.copy_out("/no-such-dir", tmp_path / "dest")
    with pytest.raises(SandboxError):
        sb.run(["true"])


def test_run_after_session_timeout_raises(image: str, cfg: SandboxConfig, run_id: str) -> None:
    # The container ends itself at session_timeout; a later command must not pass for an
    # ordinary failure of the agent's command.
    short = cfg.model_copy(update={"session_timeout": 2})
    with Sandbox(short, labels=labels(run_id)) as sb:
        time.sleep(4)
        with pytest.raises(SandboxError):
            sb.run(["true"])


def test_background_process_does_not_hold_a_run(
    image: str, cfg: SandboxConfig, run_id: str
) -> None:
    with Sandbox(cfg, labels=labels(run_id)) as sb:
        res = sb.run(["sh", "-c", "sleep 60 & echo started"], timeout=30)
    assert (res.exit_code, res.stdout) == (0, "started\n")
    assert not res.timed_out
    assert res.duration < 15  # it did not wait for the background sleep
