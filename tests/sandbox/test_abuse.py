"""The abuse battery: hostile code inside a Sandbox, one test per attempt.

Each test asserts containment (the attempt fails or is bounded inside the container) and that
the host is unchanged (files, listeners, disk, memory of this process, leftover containers).
Limits are small so the whole battery runs in well under two minutes.
"""

from __future__ import annotations

import io
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from sandbox import Sandbox, SandboxConfig, ensure_image

pytestmark = pytest.mark.docker

MiB = 1024 * 1024
OUTPUT_LIMIT = 4000
OUTPUT_MARGIN = 1024  # room for a truncation notice between head and tail
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def image(docker_daemon: None) -> str:
    """The sandbox image, built once when missing."""
    return ensure_image()


@pytest.fixture
def cfg() -> SandboxConfig:
    """Small limits so every attempt hits them quickly."""
    return SandboxConfig(
        memory_mb=128,
        cpus=1.0,
        pids=64,
        tmpfs_mb=16,
        workspace_mb=32,
        command_timeout=3,
        session_timeout=120,
        output_limit=OUTPUT_LIMIT,
    )


@pytest.fixture
def run_id() -> str:
    """A run label unique to the test, so leftover containers can be found by label."""
    return f"abuse-{uuid.uuid4().hex[:10]}"


def containers_of(run_id: str) -> list[str]:
    """Ids of all containers (running or not) labelled with this run."""
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=dgm.run={run_id}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()


def py(code: str) -> list[str]:
    """A command running a dedented Python snippet inside the container."""
    return ["python3", "-c", textwrap.dedent(code)]


def open_sandbox(cfg: SandboxConfig, run_id: str, **kwargs) -> Sandbox:
    return Sandbox(cfg, labels={"dgm.run": run_id, "dgm.node": "0", "dgm.task": "abuse"}, **kwargs)


@pytest.fixture(autouse=True)
def no_leftover_containers(request: pytest.FixtureRequest, run_id: str):
    """After every test, the run's containers are gone (removal is guaranteed)."""
    yield
    left = containers_of(run_id)
    if left:
        subprocess.run(["docker", "rm", "-f", *left], capture_output=True)
    assert not left, f"containers left behind: {left}"


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
        for path in ({str(marker)!r}, {str(tmp_path)!r}, "/host", "/proc/1/root{marker}"):
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
        for path in ("/etc/pwned", "/usr/bin/pwned", "/pwned", "/agent/agent.py",
                     "/agent/new.py", "/etc/passwd", "/usr/lib/pwned"):
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


def test_fork_bomb_is_held_by_pids_limit(image: str, cfg: SandboxConfig, run_id: str) -> None:
    # Forks until the kernel refuses, counts, then reaps its children: the count shows the cap.
    script = """
        import os, signal, time
        children = []
        try:
            while len(children) < 10_000:
                pid = os.fork()
                if pid == 0:
                    time.sleep(30)
                    os._exit(0)
                children.append(pid)
        except OSError as exc:
            print("REFUSED", type(exc).__name__)
        print("FORKED", len(children))
        for pid in children:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    """
    with open_sandbox(cfg, run_id) as sb:
        res = sb.run(py(script), timeout=20)
        alive = sb.run(["echo", "still-alive"], timeout=10)
    assert "REFUSED" in res.stdout, res.stdout + res.stderr
    forked = int(res.stdout.split("FORKED")[1].split()[0])
    assert forked < cfg.pids
    assert alive.stdout.strip() == "still-alive"
    assert subprocess.run(["true"]).returncode == 0  # the host still forks


def test_shell_fork_bomb_is_contained_and_removed(
    image: str, cfg: SandboxConfig, run_id: str
) -> None:
    # A classic bomb that never cleans up: the run ends at its timeout, the session is removed.
    started = time.monotonic()
    with open_sandbox(cfg, run_id) as sb:
        res = sb.run(["bash", "-c", "b(){ b|b& }; b; sleep 30"], timeout=3)
    elapsed = time.monotonic() - started
    assert res.timed_out or res.exit_code != 0
    assert elapsed < 60, f"the bomb held the session for {elapsed:.0f}s"
    assert containers_of(run_id) == []
    assert subprocess.run(["true"]).returncode == 0


def test_memory_bomb_is_oom_killed(image: str, cfg: SandboxConfig, run_id: str) -> None:
    script = """
        chunks = []
        for _ in range(1024):  # up to 1 GiB, touched page by page
            chunks.append(bytearray(b"x" * (1024 * 1024)))
        print("SURVIVED", len(chunks))
    """
    with open_sandbox(cfg, run_id) as sb:
        res = sb.run(py(script), timeout=30)
        alive = sb.run(["echo", "still-alive"], timeout=10)
    assert res.oom_killed, (res.exit_code, res.stderr)
    assert "SURVIVED" not in res.stdout
    assert res.exit_code != 0
    assert not res.timed_out
    assert alive.stdout.strip() == "still-alive"


def _leftover_processes_script(needle: str) -> list[str]:
    # No procps in the image: scan /proc for a command line holding the needle.
    code = f"""
        import os
        hits = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmd = open(f"/proc/{{pid}}/cmdline", "rb").read().replace(b"\\0", b" ")
            except OSError:
                continue
            if {needle.encode()!r} in cmd and int(pid) != os.getpid():
                hits.append(pid)
        print("LEFT", len(hits))
    """
    return py(code)


def test_cpu_spin_past_timeout_is_killed(image: str, cfg: SandboxConfig, run_id: str) -> None:
    with open_sandbox(cfg, run_id) as sb:
        res = sb.run(py("while True: pass  # spin-marker"), timeout=2)
        left = sb.run(_leftover_processes_script("spin-marker"), timeout=10)
    assert res.timed_out
    assert res.exit_code != 0
    assert 1.5 <= res.duration < 15
    assert "LEFT 0" in left.stdout, left.stdout + left.stderr


def test_sleep_past_timeout_is_killed(image: str, cfg: SandboxConfig, run_id: str) -> None:
    with open_sandbox(cfg, run_id) as sb:
        res = sb.run(["sleep", "3600"], timeout=2)
        left = sb.run(_leftover_processes_script("3600"), timeout=10)
    assert res.timed_out
    assert 1.5 <= res.duration < 15
    assert "LEFT 0" in left.stdout, left.stdout + left.stderr


def test_default_command_timeout_applies(image: str, cfg: SandboxConfig, run_id: str) -> None:
    # No per-call timeout: the config's command_timeout (3 s) bounds the command.
    with open_sandbox(cfg, run_id) as sb:
        res = sb.run(["sleep", "3600"])
    assert res.timed_out
    assert res.duration < 20


@pytest.mark.parametrize("target", ["/tmp", "/work"])
def test_filling_tmpfs_stops_at_its_size(
    image: str, cfg: SandboxConfig, run_id: str, target: str
) -> None:
    size_mb = cfg.tmpfs_mb if target == "/tmp" else cfg.workspace_mb
    script = f"""
        import errno
        written = 0
        try:
            with open("{target}/fill", "wb") as fh:
                block = b"\\0" * (1024 * 1024)
                for _ in range(512):
                    fh.write(block)
                    fh.flush()
                    written += 1
        except OSError as exc:
            print("STOPPED", errno.errorcode.get(exc.errno))
        print("WRITTEN_MB", written)
    """
    free_before = shutil.disk_usage("/var/lib/docker").free
    with open_sandbox(cfg, run_id) as sb:
        res = sb.run(py(script), timeout=30)
        after = sb.run(["echo", "still-alive"], timeout=10)
    free_after = shutil.disk_usage("/var/lib/docker").free
    assert "STOPPED ENOSPC" in res.stdout, res.stdout + res.stderr
    written = int(res.stdout.split("WRITTEN_MB")[1].split()[0])
    assert written <= size_mb
    assert after.stdout.strip() == "still-alive"
    # 512 MB were attempted; the host disk must not have absorbed them.
    assert free_before - free_after < 256 * MiB


def test_gigabytes_of_stdout_are_bounded(image: str, cfg: SandboxConfig, run_id: str) -> None:
    # 2 GiB on stdout after 5 MB on stderr. The sandbox keeps head and tail of each stream
    # and may stop the writer once nobody could want the rest (config.output_kill).
    script = """
        import sys
        sys.stderr.write("ERR-HEAD" + "E" * 5_000_000 + "ERR-TAIL\\n")
        sys.stderr.flush()
        out = sys.stdout.buffer
        out.write(b"HEAD-MARK\\n")
        block = b"y" * (1024 * 1024)
        for _ in range(2048):
            out.write(block)
        out.write(b"\\nTAIL-MARK\\n")
    """
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    started = time.monotonic()
    with open_sandbox(cfg, run_id) as sb:
        res = sb.run(py(script), timeout=120)
        alive = sb.run(["echo", "still-alive"], timeout=10)
    elapsed = time.monotonic() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert not res.timed_out
    assert res.stdout.startswith("HEAD-MARK\n")
    assert res.stdout.rstrip().endswith(("yyyy", "TAIL-MARK"))  # a tail is kept
    assert len(res.stdout) <= OUTPUT_LIMIT + OUTPUT_MARGIN
    assert res.stderr.startswith("ERR-HEAD")
    assert "ERR-TAIL" in res.stderr
    assert len(res.stderr) <= OUTPUT_LIMIT + OUTPUT_MARGIN
    assert alive.stdout.strip() == "still-alive"
    # The host process never held the whole stream, and nobody waited for 2 GiB.
    assert rss_after - rss_before < 512 * MiB
    assert elapsed < 60


def _tree(root: Path) -> dict[str, str]:
    """Every entry under root: relative path -> kind (and link target for links)."""
    kinds = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            kinds[rel] = f"link:{os.readlink(path)}"
        elif path.is_file():
            kinds[rel] = "file"
        elif path.is_dir():
            kinds[rel] = "dir"
        else:
            kinds[rel] = "other"
    return kinds


def test_links_at_copy_out_stay_inside_destination(
    image: str, cfg: SandboxConfig, run_id: str, tmp_path: Path
) -> None:
    secret = f"host-secret-{uuid.uuid4().hex}"
    marker = tmp_path / "marker.txt"
    marker.write_text(secret)
    host_passwd = Path("/etc/passwd").read_text()
    dest = tmp_path / "dest"
    dest.mkdir()
    siblings_before = sorted(p.name for p in tmp_path.iterdir())
    up = "../" * 12
    script = f"""
        set -e
        cd /work
        echo ordinary > ordinary.txt
        ln -s /etc/passwd passwd-link
        ln -s {marker} marker-abs
        ln -s {up}{str(marker).lstrip("/")} marker-rel
        ln -s {up}etc/passwd passwd-rel
        ln -s / root-dir
        ln -s {tmp_path} host-dir
        ln -s ordinary.txt inside-link
        ln ordinary.txt hard-inside
        ln /tmp/x hard-tmp 2>/dev/null || true
        mkfifo fifo
        mkdir -p sub
        ln -s ../../.. sub/up
        echo dots > ...
        echo dots > ..hidden
        echo done
    """
    with open_sandbox(cfg, run_id) as sb:
        res = sb.run(["bash", "-c", textwrap.dedent(script)], timeout=20)
        assert res.exit_code == 0, res.stderr
        sb.copy_out("/work", dest)
    assert marker.read_text() == secret
    assert sorted(p.name for p in tmp_path.iterdir()) == siblings_before
    assert (dest / "ordinary.txt").read_text() == "ordinary\n"
    assert (dest / "...").read_text() == "dots\n"
    tree = _tree(dest)
    real_dest = dest.resolve()
    for rel, kind in tree.items():
        path = dest / rel
        assert kind != "other", f"{rel} is a device or fifo on the host"
        if path.is_symlink():
            target = (path.parent / os.readlink(path)).resolve()
            assert target.is_relative_to(real_dest), f"{rel} points outside: {target}"
        if path.is_file() and not path.is_symlink():
            text = path.read_text(errors="replace")
            assert secret not in text, f"{rel} holds the host marker"
            assert text != host_passwd, f"{rel} holds the host /etc/passwd"
    hard = dest / "hard-inside"
    if hard.exists():
        assert hard.read_text() == "ordinary\n"


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
        for cmd in (["sudo", "-n", "id", "-u"], ["su", "-c", "id -u"], ["su", "root", "-c", "id"]):
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
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
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


def _crafted_tar(members: list[tuple[str, str, bytes | str]]) -> bytes:
    """A tar stream as a hostile container could hand to copy_out: (name, kind, payload)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                data = payload if isinstance(payload, bytes) else payload.encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = {
                "dir": tarfile.DIRTYPE,
                "symlink": tarfile.SYMTYPE,
                "hardlink": tarfile.LNKTYPE,
                "chardev": tarfile.CHRTYPE,
                "fifo": tarfile.FIFOTYPE,
            }[kind]
            if kind in ("symlink", "hardlink"):
                info.linkname = str(payload)
            tar.addfile(info)
    return buf.getvalue()


def test_crafted_tar_names_cannot_escape_destination(tmp_path: Path) -> None:
    # copy_out's tar stream comes from inside the container, so it is untrusted: feed the
    # unpacker the escapes a subverted stream could hold.
    from sandbox.transfer import unpack

    dest = tmp_path / "dest"
    outside = tmp_path / "outside"
    outside.mkdir()
    host_passwd = Path("/etc/passwd").read_bytes()
    data = _crafted_tar(
        [
            ("../outside/dotdot.txt", "file", "pwned"),
            ("./a/../../outside/mid.txt", "file", "pwned"),
            (f"{outside}/absolute.txt", "file", "pwned"),
            ("evil", "symlink", str(outside)),
            ("evil/through-link.txt", "file", "pwned"),
            ("passwd", "hardlink", "/etc/passwd"),
            ("passwd-rel", "hardlink", "../../../../../../etc/passwd"),
            ("null", "chardev", ""),
            ("pipe", "fifo", ""),
            ("ok/fine.txt", "file", "fine"),
        ]
    )
    unpack(data, dest)
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest", "outside"]
    assert (dest / "ok" / "fine.txt").read_text() == "fine"
    for path in dest.rglob("*"):
        assert path.is_dir() or (path.is_file() and not path.is_symlink()), path
        if path.is_file():
            assert path.read_bytes() != host_passwd
    assert Path("/etc/passwd").read_bytes() == host_passwd


def test_existing_link_in_destination_is_not_followed(tmp_path: Path) -> None:
    # dest already holds a link to a sibling whose name shares dest's prefix ("dest2"):
    # a member under that link must not land in the sibling.
    from sandbox.transfer import unpack

    dest = tmp_path / "dest"
    dest.mkdir()
    sibling = tmp_path / "dest2"
    sibling.mkdir()
    (dest / "lnk").symlink_to(sibling)
    unpack(_crafted_tar([("lnk/x.txt", "file", "pwned"), ("lnk", "file", "now a file")]), dest)
    assert list(sibling.iterdir()) == []
