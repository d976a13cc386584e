"""PID 1 of every sandbox container (standard library only; passed to `python3 -c`).

It connects back to the host's control socket (a read-only mounted directory) and runs the
host's commands one at a time, streaming their output. A `docker exec` costs about 60 ms of
daemon work; a command through this channel costs what the command costs. It also reaps
orphans, enforces each command's time limit (TERM to the command's group, KILL to every
process 2 s later) and ends the container when the host closes the channel or the session
time runs out, so a host killed with SIGKILL leaves nothing running.

Frames both ways: one type byte, a 4-byte big-endian length, the payload.
Host to runner: R (a JSON request), I (stdin bytes), E (end of stdin), K (kill every process).
Runner to host: O (stdout bytes), e (stderr bytes), X (a JSON exit report).
A request with "kill_first" kills every other process and waits until they are gone before
its command starts (an empty command: only that), so the host knows when nothing of an
agent is left running.
"""

import ctypes
import json
import os
import queue
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

HEADER = struct.Struct(">BI")
OOM_FILES = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")
LIBC = ctypes.CDLL(None)
GRACE = 2.0  # seconds between TERM and KILL at a time limit


def send(conn, kind, payload, lock):
    with lock:
        conn.sendall(HEADER.pack(ord(kind), len(payload)) + payload)


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def recv(conn):
    kind, size = HEADER.unpack(recv_exact(conn, HEADER.size))
    return chr(kind), recv_exact(conn, size) if size else b""


def kill_all():
    try:
        os.kill(-1, signal.SIGKILL)  # from PID 1: every other process in the container
    except ProcessLookupError:
        pass


def others():
    """Processes in the container other than this one (zombies included)."""
    return [p for p in os.listdir("/proc") if p.isdigit() and p != "1"]


def kill_everything(patience=10.0):
    """Kill every other process and reap it. Repeated until none is left: a process forked
    while kill(-1) walked the list escapes one round."""
    end = time.monotonic() + patience
    while True:
        kill_all()
        reap(None)
        left = others()
        if not left or time.monotonic() > end:
            return len(left)
        time.sleep(0.01)


def reap(keep_pid):
    """Reap exited orphans without touching `keep_pid` (its Popen reaps it)."""
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid == keep_pid:
            return
        os.waitpid(info.si_pid, 0)


def oom_kills():
    for path in OOM_FILES:
        try:
            with open(path) as f:
                lines = f.read().splitlines()
            for line in lines:
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            continue
    return 0


def feed(pipe, chunks):
    """Write stdin chunks to the command as they arrive; None ends stdin."""
    try:
        for chunk in iter(chunks.get, None):
            pipe.write(chunk)
            pipe.flush()
    except OSError:
        pass  # the command stopped reading
    finally:
        try:
            pipe.close()
        except OSError:
            pass


def prefer_oom_victim():
    LIBC.prctl(4, 1, 0, 0, 0)  # dumpable again (exec would do it too), so /proc/self is ours
    with open("/proc/self/oom_score_adj", "w") as f:
        f.write("500")  # the memory bomb dies, not PID 1


def run(conn, lock, request, session_end):
    if request.get("kill_first"):
        survivors = kill_everything()
        if survivors or not request["argv"]:  # an empty command: only the kill
            if survivors:
                send(conn, "e", b"sandbox runner: processes survive SIGKILL\n", lock)
            report = {"code": 126 if survivors else 0, "timed_out": False}
            send(conn, "X", json.dumps({**report, "oom_kills": oom_kills()}).encode(), lock)
            return
    stdin = queue.Queue() if request.get("stdin") else None
    try:
        proc = subprocess.Popen(
            request["argv"],
            cwd=request.get("cwd") or None,
            env={**os.environ, **request.get("env", {})},
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=prefer_oom_victim,
        )
    except (OSError, subprocess.SubprocessError) as exc:  # no such command, no such cwd
        send(conn, "e", f"{request['argv'][0]}: {exc}\n".encode(), lock)
        code = 127 if isinstance(exc, FileNotFoundError) else 126
        report = {"code": code, "timed_out": False, "oom_kills": oom_kills()}
        send(conn, "X", json.dumps(report).encode(), lock)
        return
    if stdin:
        threading.Thread(target=feed, args=(proc.stdin, stdin), daemon=True).start()
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "O")
    sel.register(proc.stderr, selectors.EVENT_READ, "e")
    sel.register(conn, selectors.EVENT_READ, "ctl")
    deadline = time.monotonic() + float(request["timeout"])
    kill_at, timed_out, exited_at = None, False, None
    streams = 2
    while True:
        now = time.monotonic()
        if proc.poll() is not None:
            exited_at = exited_at or now
            # Output still open after the command ended belongs to its background children.
            if streams == 0 or now - exited_at > 0.2:
                break
        if kill_at is None and now >= deadline:
            timed_out, kill_at = True, now + GRACE
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        if kill_at is not None and now >= kill_at:
            kill_all()
            kill_at = float("inf")
        if now >= session_end:
            kill_all()
            sys.exit(0)
        if streams == 0:  # only the exit is left to wait for
            try:
                proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                pass
        for key, _ in sel.select(timeout=0 if streams == 0 else 0.05):
            if key.data == "ctl":
                kind, payload = recv(conn)
                if kind == "I" and stdin:
                    stdin.put(payload)
                elif kind == "E" and stdin:
                    stdin.put(None)
                elif kind == "K":
                    kill_all()
                continue
            chunk = os.read(key.fileobj.fileno(), 65536)
            if chunk:
                send(conn, key.data, chunk, lock)
            else:
                sel.unregister(key.fileobj)
                streams -= 1
        reap(proc.pid)
    sel.close()
    if timed_out:
        kill_all()  # stragglers that left the process group
    code = proc.returncode
    report = {
        "code": 124 if timed_out else (128 - code if code < 0 else code),
        "timed_out": timed_out,
        "oom_kills": oom_kills(),
    }
    send(conn, "X", json.dumps(report).encode(), lock)
    for pipe in (proc.stdout, proc.stderr):
        pipe.close()


def main(path, session_timeout):
    if os.getpid() != 1:  # kill_all() from anything but a container's PID 1 would be a disaster
        sys.exit("the sandbox runner runs only as PID 1 of a container")
    # Not dumpable: the sandbox's processes (the same user) cannot ptrace this one or take
    # its channel from /proc.
    LIBC.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
    session_end = time.monotonic() + session_timeout
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    lock = threading.Lock()
    idle = selectors.DefaultSelector()
    idle.register(conn, selectors.EVENT_READ)
    try:
        while time.monotonic() < session_end:
            if not idle.select(timeout=0.5):
                reap(None)  # orphans of earlier commands
                continue
            kind, payload = recv(conn)
            if kind == "R":
                try:
                    run(conn, lock, json.loads(payload), session_end)
                except (EOFError, OSError):
                    raise
                except Exception as exc:  # noqa: BLE001 - e.g. no thread left under the pids limit
                    kill_all()
                    report = {"code": 126, "timed_out": False, "oom_kills": oom_kills()}
                    send(conn, "e", f"sandbox runner: {exc!r}\n".encode(), lock)
                    send(conn, "X", json.dumps(report).encode(), lock)
                reap(None)
            elif kind == "K":
                kill_all()
    except (EOFError, OSError):
        pass  # the host closed the channel: the session is over
    kill_all()


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
