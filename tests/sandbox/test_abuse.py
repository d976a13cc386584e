"""The abuse battery, part 1: hostile code trying to reach out of its Sandbox (network, host
files, writes, root, secrets) and sessions that must vanish however they end.

Each test asserts containment and that the host is unchanged. Part 2 (limits) is
test_abuse_limits.py, part 3 (copy-out) test_abuse_copy_out.py.
"""

from __future__ import annotations

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

from sandbox import SandboxConfig
from tests.sandbox.helpers import (
    containers_of,
    interruptible,
    open_sandbox,
    py,
    small_limits,
)

pytestmark = pytest.mark.docker

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cfg() -> SandboxConfig:
    return small_limits()


def test_network_egress_fails(image: str, cfg: SandboxConfig, run_id: str) -> None:
    # A host listener on every interface: a connection from the container would reach it.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("0.0.0.0", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    accepted: list[object] = []
    stop = threading.Event()

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    targets = ["1.1.1.1:53", "8.8.8.8:443", f"172.17.0.1:{port}", f"10.0.2.2:{port}"]
    script = f"""
        import socket
        ok = []
        for target in {targets!r}:
            host, port = target.rsplit(":", 1)
            try:
                socket.create_connection((host, int(port)), timeout=1).close()
                ok.append(target)
            except OSError as exc:
                print("blocked", target, type(exc).__name__)
        print("CONNECTED", ok)
        import os
        print("IFACES", sorted(os.listdir("/sys/class/net")))
    """
    try:
        with open_sandbox(cfg, run_id) as sb:
            res = sb.run(py(script), timeout=20)
    finally:
        stop.set()
        thread.join(timeout=2)
        listener.close()
    assert res.exit_code == 0, res.stderr
    assert "CONNECTED []" in res.stdout
    assert "IFACES ['lo']" in res.stdout
    assert accepted == [], "the host listener saw a connection from the sandbox"


def test_dns_lookup_fails(image: str, cfg: SandboxConfig, run_id: str) -> None:
    script = """
        import socket
        for name in ("example.com", "pypi.org", "host.docker.internal"):
            try:
                print("RESOLVED", name, socket.getaddrinfo(name, 443)[0][4])
            except OSError as exc:
                print("failed", name, type(exc).__name__)
    """
    with open_sandbox(cfg, run_id) as sb:
        res = sb.run(py(script), timeout=20)
    assert res.exit_code == 0, res.stderr
    assert "RESOLVED" not in res.stdout
    assert res.stdout.count("failed") == 3


def test_unmounted_host_file_is_unreadable(
    image: str, cfg: SandboxConfig, run_id: str, tmp_path: Path
) -> None:
    secret = f"host-secret-{uuid.uuid4().hex}"
    marker = tmp_path / "marker.txt"
    marker.write_text(secret)
    mounted = tmp_path / "agent"
    mounted.mkdir()
    (mounted / "agent.py").write_text("print('hi')\n")
    script = f"""
        import os
        paths = ({str(marker)!r}, {str(tmp_path)!r}, "/host", "/proc/1/root{marker}",
                 "/var/run/docker.sock", "/run/docker.sock", "/run/containerd")
        for path in paths:
            try:
                if os.path.isdir(path):
                    print("LISTED", path, os.listdir(path))
                else:
                    print("READ", path, open(path).read())
            except OSError as exc:
                print("denied", path, type(exc).__name__)
        # The only host directory the container sees is the one mounted on purpose.
        found = []
        for root, dirs, files in os.walk("/"):
            if root.startswith(("/proc", "/sys", "/dev")):
                dirs[:] = []
                continue
            found += [os.path.join(root, f) for f in files if f == "marker.txt"]
        print("FOUND", found)
    """
    with open_sandbox(cfg, run_id, ro_mounts={str(mounted): "/agent"}) as sb:
        res = sb.run(py(script), timeout=30)
    assert res.exit_code == 0, res.stderr
    assert secret not in res.stdout
    assert "READ" not in res.stdout
    assert "FOUND []" in res.stdout
    assert marker.read_text() == secret


def test_writes_outside_workspace_fail(
    image: str, cfg: SandboxConfig, run_id: str, tmp_path: Path
) -> None:
    mounted = tmp_path / "agent"
    mounted.mkdir()
    (mounted / "agent.py").write_text("original\n")
    before = sorted(p.name for p in mounted.iterdir())
    script = """
        import os
        # Last three: raising its own limits, poking the host kernel.
        for path in ("/etc/pwned", "/usr/bin/pwned", "/pwned", "/agent/agent.py",
                     "/agent/new.py", "/etc/passwd", "/usr/lib/pwned",
                     "/sys/fs/cgroup/pids/pids.max", "/proc/sys/kernel/hostname",
                     "/proc/sysrq-trigger"):
            try:
                with open(path, "a") as fh:
                    fh.write("pwned")
                print("WROTE", path)
            except OSError as exc:
                print("denied", path, type(exc).__name__)
        for path in ("/work/ok", "/out/ok", "/tmp/ok"):
            with open(path, "w") as fh:
                fh.write("fine")
            print("allowed", path)
    """
    with open_sandbox(cfg, run_id, ro_mounts={str(mounted): "/agent"}) as sb:
        res = sb.run(py(script), timeout=20)
    assert res.exit_code == 0, res.stderr
    assert "WROTE" not in res.stdout
    assert res.stdout.count("allowed") == 3
    assert (mounted / "agent.py").read_text() == "original\n"
    assert sorted(p.name for p in mounted.iterdir()) == before
    assert not Path("/pwned").exists() and not Path("/etc/pwned").exists()


def test_becoming_root_fails(image: str, cfg: SandboxConfig, run_id: str) -> None:
    script = """
        import os, subprocess
        print("UID", os.getuid(), os.geteuid())
        status = dict(l.split(":", 1) for l in open("/proc/self/status") if ":" in l)
        for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs"):
            print(key, status.get(key, "?").strip())
        for fn, arg in ((os.setuid, 0), (os.setgid, 0), (os.seteuid, 0)):
            try:
                fn(arg)
                print("BECAME", fn.__name__)
            except OSError as exc:
                print("denied", fn.__name__, type(exc).__name__)
        for cmd in (["sudo", "-n", "id", "-u"], ["su", "-c", "id -u"], ["su", "root", "-c", "id"],
                    ["unshare", "-r", "id", "-u"], ["mount", "-t", "tmpfs", "x", "/tmp"]):
            try:
                p = subprocess.run(
                    cmd, capture_output=True, text=True, timeout=5, stdin=subprocess.DEVNULL
                )
                print("RAN", cmd[0], p.returncode, p.stdout.strip() or "-")
            except (OSError, subprocess.TimeoutExpired) as exc:
                print("denied", cmd[0], type(exc).__name__)
        # Setuid binaries run without their privilege under no-new-privileges.
        setuid = []
        for d in ("/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/lib"):
            for root, _, files in os.walk(d):
                for f in files:
                    p = os.path.join(root, f)
                    try:
                        if os.stat(p).st_mode & 0o4000:
                            setuid.append(p)
                    except OSError:
                        pass
        print("SETUID", setuid)
    """
    with open_sandbox(cfg, run_id) as sb:
        res = sb.run(py(script), timeout=20)
        idu = sb.run(["id", "-u"], timeout=10)
    out = res.stdout
    assert res.exit_code == 0, res.stderr
    assert idu.stdout.strip() == "1000"
    assert "UID 1000 1000" in out
    for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert f"{key} 0000000000000000" in out, out
    assert "NoNewPrivs 1" in out
    assert "BECAME" not in out
    for line in out.splitlines():
        if line.startswith("RAN"):
            _, name, code, uid_out = line.split(maxsplit=3)
            assert code != "0" or uid_out.strip() != "0", line


def test_no_api_keys_in_environment(
    image: str, cfg: SandboxConfig, run_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-test")
    script = """
        import os, glob
        print("ENV", sorted(os.environ))
        print("VALUES", "|".join(os.environ.values()))
        for path in glob.glob("/proc/[0-9]*/environ"):
            try:
                print("PROC", open(path, "rb").read().replace(b"\\0", b"|").decode())
            except OSError:
                pass
    """
    with open_sandbox(cfg, run_id, env={"DGM_MODEL": "sim"}) as sb:
        res = sb.run(py(script), timeout=20)
    assert res.exit_code == 0, res.stderr
    for leaked in ("sk-test", "sk-ant-test", "ghp-test", "OPENAI", "ANTHROPIC", "GITHUB"):
        assert leaked not in res.stdout
    names = res.stdout.split("ENV", 1)[1].split("\n", 1)[0]
    for word in ("KEY", "TOKEN", "SECRET", "PASSWORD"):
        assert word not in names
    assert "'DGM_MODEL'" in names  # what was passed on purpose does arrive


def test_container_gone_after_exception(image: str, cfg: SandboxConfig, run_id: str) -> None:
    with pytest.raises(RuntimeError, match="boom"), open_sandbox(cfg, run_id) as sb:
        sb.run(["true"], timeout=10)
        assert len(containers_of(run_id)) == 1
        raise RuntimeError("boom")
    assert containers_of(run_id) == []


def test_container_gone_after_keyboard_interrupt(
    image: str, cfg: SandboxConfig, run_id: str
) -> None:
    with pytest.raises(KeyboardInterrupt), open_sandbox(cfg, run_id) as sb:
        sb.run(["true"], timeout=10)
        assert len(containers_of(run_id)) == 1
        raise KeyboardInterrupt
    assert containers_of(run_id) == []


def test_container_gone_after_ctrl_c_during_run(image: str, run_id: str) -> None:
    # A real SIGINT to a host process blocked in sb.run (a long sleep in the container).
    code = textwrap.dedent(
        f"""
        import sys
        from sandbox import Sandbox, SandboxConfig
        cfg = SandboxConfig(memory_mb=128, pids=64, command_timeout=60, session_timeout=120)
        with Sandbox(cfg, labels={{"dgm.run": {run_id!r}}}) as sb:
            print("ready", flush=True)
            sb.run(["sleep", "60"], timeout=60)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        preexec_fn=interruptible,
    )  # fmt: skip
    try:
        assert proc.stdout.readline().strip() == b"ready", proc.stderr.read().decode()
        time.sleep(1.0)  # let sb.run start the sleep
        assert len(containers_of(run_id)) == 1
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert b"KeyboardInterrupt" in proc.stderr.read()
    assert containers_of(run_id) == []


def test_image_has_no_setuid_binaries(image: str, cfg: SandboxConfig, run_id: str) -> None:
    # A second layer beside no-new-privileges: nothing in the image can raise privileges.
    with open_sandbox(cfg, run_id) as sb:
        res = sb.run("find / -xdev -perm /6000 -type f 2>/dev/null")
    assert res.stdout.strip() == ""


def test_control_channel_cannot_be_taken_over(image: str, cfg: SandboxConfig, run_id: str) -> None:
    # Commands run through PID 1 (the runner) over a channel to the host. Code in the sandbox
    # runs as the same user, so try every way in: connect to the host's socket, signal or
    # ptrace PID 1, take its socket from /proc, read its memory.
    script = """
        import ctypes, glob, os, signal, socket
        print("SOCKETS", glob.glob("/dgm/*"))
        try:
            socket.socket(socket.AF_UNIX).connect("/dgm/ctl.sock")
            print("CONNECTED")
        except OSError as exc:
            print("no connect", type(exc).__name__)
        for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP):
            try:
                os.kill(1, sig)
            except OSError as exc:
                print("no signal", type(exc).__name__)
        for path in ("/proc/1/fd/0", "/proc/1/fd/3", "/proc/1/mem", "/proc/1/environ"):
            try:
                open(path, "rb").read(1)
                print("OPENED", path)
            except OSError as exc:
                print("no open", path, type(exc).__name__)
        libc = ctypes.CDLL(None, use_errno=True)
        print("PTRACE", libc.ptrace(16, 1, None, None), ctypes.get_errno())  # PTRACE_ATTACH
    """
    with open_sandbox(cfg, run_id) as sb:
        res = sb.run(py(script), timeout=20)
        assert res.exit_code == 0, res.stderr
        assert "SOCKETS []" in res.stdout
        assert "CONNECTED" not in res.stdout and "OPENED" not in res.stdout
        assert "PTRACE -1" in res.stdout
        after = sb.run(["sh", "-c", "echo still here"])  # PID 1 survived every signal
        assert after.exit_code == 0 and after.stdout.strip() == "still here"
