"""The abuse battery, part 2: hostile code against the Sandbox's limits (processes, memory,
time, disk, output). Each test asserts the limit holds, the session still answers or is
removed, and the host is unchanged. Limits are small so every attempt hits them quickly.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import time

import pytest

from sandbox import SandboxConfig
from tests.sandbox.helpers import OUTPUT_LIMIT, containers_of, open_sandbox, py, small_limits

pytestmark = pytest.mark.docker

MiB = 1024 * 1024

OUTPUT_MARGIN = 1024  # room for a truncation notice between head and tail


@pytest.fixture
def cfg() -> SandboxConfig:
    return small_limits()


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


def test_pids_left_exhausted_after_a_command_is_an_error_not_a_crash(
    image: str, cfg: SandboxConfig, run_id: str
) -> None:
    # Children in their own sessions take every pid and, for a few seconds, retake any pid
    # that frees: the next command cannot start (almost always), which must come back as a
    # result with a reason, not as a dead runner; the session is still removable.
    script = """
        import os, time
        n = 0
        try:
            while True:
                if os.fork() == 0:
                    os.setsid()
                    end = time.monotonic() + 5
                    while time.monotonic() < end:
                        try:
                            if os.fork() == 0:
                                time.sleep(300)
                                os._exit(0)
                        except OSError:
                            time.sleep(0.001)
                    time.sleep(300)
                    os._exit(0)
                n += 1
        except OSError:
            print("HELD", n)
    """
    with open_sandbox(cfg, run_id) as sb:
        res = sb.run(py(script), timeout=20)
        assert "HELD" in res.stdout, res.stdout + res.stderr
        blocked = sb.run(["echo", "hello"], timeout=5)
        assert blocked.stdout == "hello\n" or (blocked.exit_code == 126 and blocked.stderr)
    assert containers_of(run_id) == []


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
            if {needle.encode()!r} in cmd and int(pid) not in (os.getpid(), os.getppid()):
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


@pytest.mark.parametrize("target", ["/tmp", "/work", "/dev/shm"])
def test_filling_tmpfs_stops_at_its_size(
    image: str, cfg: SandboxConfig, run_id: str, target: str
) -> None:
    # /dev/shm is Docker's own 64 MB tmpfs; it must be bounded too.
    size_mb = {"/tmp": cfg.tmpfs_mb, "/work": cfg.workspace_mb, "/dev/shm": 64}[target]
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


def test_container_log_cannot_fill_host_disk(image: str, cfg: SandboxConfig, run_id: str) -> None:
    # PID 1's stdout and stderr are the container log, kept by the daemon on the host disk;
    # a process of the same user can open them through /proc/1/fd and write without bound.
    script = """
        import os
        block = b"x" * (1024 * 1024)
        for fd in ("/proc/1/fd/1", "/proc/1/fd/2"):
            try:
                with open(fd, "wb") as fh:
                    for _ in range(48):
                        fh.write(block)
                print("wrote", fd)
            except OSError as exc:
                print("denied", fd, type(exc).__name__)
    """
    with open_sandbox(cfg, run_id) as sb:
        res = sb.run(py(script), timeout=60)
        (cid,) = containers_of(run_id)
        log_path = subprocess.run(
            ["docker", "inspect", "-f", "{{.LogPath}}", cid], capture_output=True, text=True
        ).stdout.strip()
        log_size = os.path.getsize(log_path) if log_path and os.path.exists(log_path) else 0
    assert res.exit_code == 0, res.stderr
    # 96 MB were written; what the daemon keeps of them on the host must stay small.
    assert log_size < 4 * MiB, f"{log_size >> 20} MB of container log on the host"
