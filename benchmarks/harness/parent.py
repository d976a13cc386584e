# The trusted side of a grading, inside the clean grading container (standard library only;
# started as `python3 -I -S -B -c <this text> JOBFILE`, plain.py prepended). It makes itself
# undumpable (so the agent's processes, the same uid, cannot read its memory or open its
# descriptors), reads its whole job and deletes the file before anything of the agent's
# runs, and runs the agent's code only in child processes whose output goes to anonymous
# files it reads afterwards. Its verdict is printed on the last line beside the per-grading
# nonce, which nothing the agent runs ever sees. Only built-in modules and a few small ones
# are imported: every millisecond here is paid by every evaluation.
import binascii
import builtins
import ctypes
import marshal
import os
import sys
import time

# Isolated (no environment variables, no script or working directory on sys.path), no site
# (nothing from site-packages; 13 ms less per interpreter), no bytecode written.
FLAGS = ("-I", "-S", "-B")
KEEP = 16_000  # bytes of a child's output kept (head and tail)
REPORT_LIMIT = 16 * 1024 * 1024
MESSAGE_LIMIT = 32 * 1024 * 1024
DEFAULT_SIGNALS = (13, 25)  # SIGPIPE, SIGXFSZ: Python ignores them, its children must not
INLINE_LIMIT = 20_000  # bytes of verdict printed inline (the host keeps 32 KB of the tail)


def _traceback():
    import traceback  # only on the error paths: 8 ms of start-up saved

    return traceback


def undumpable():
    try:
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):
        pass


def anonymous_file():
    """A file with no name on /tmp (bounded by its size), for a child's output."""
    try:
        return os.open("/tmp", os.O_TMPFILE | os.O_RDWR, 0o600)
    except (OSError, AttributeError):
        path = f"/tmp/.dgm-out-{os.urandom(8).hex()}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.unlink(path)
        return fd


def read_kept(fd, keep=KEEP, whole=0):
    """A child's output: all of it up to `whole` bytes, else its head and tail."""
    size = os.fstat(fd).st_size
    if size <= max(whole, keep):
        data = os.pread(fd, size, 0)
        return data.decode("utf-8", "replace")
    half = keep // 2
    head = os.pread(fd, half, 0).decode("utf-8", "replace")
    tail = os.pread(fd, half, size - half).decode("utf-8", "replace")
    return f"{head}\n[... {size - 2 * half} bytes cut ...]\n{tail}"


class Child:
    """One child process running the agent's code, in its own session; its stdout and
    stderr go to anonymous files. `stdin` bytes (small) are written to a pipe."""

    def __init__(self, argv, spec, pass_fds=(), stdin=None):
        env = dict(os.environ)
        env.update(spec.get("env") or {})
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.out, self.err = anonymous_file(), anonymous_file()
        if stdin is None:
            source = os.open(os.devnull, os.O_RDONLY)
        else:
            source, feed = os.pipe()
        actions = [(os.POSIX_SPAWN_DUP2, source, 0), (os.POSIX_SPAWN_DUP2, self.out, 1),
                   (os.POSIX_SPAWN_DUP2, self.err, 2)]  # fmt: skip
        for fd in pass_fds:
            os.set_inheritable(fd, True)
        path = argv[0] if "/" in argv[0] else _which(argv[0], env)
        self.pid = os.posix_spawn(
            path, argv, env, file_actions=actions, setsid=True, setsigdef=DEFAULT_SIGNALS
        )
        os.close(source)
        self.code = None
        if stdin is not None:
            try:
                os.write(feed, stdin)  # a pipe holds 64 KB: jobs beyond that are written
            except OSError:  # by a child that reads them at once; a dead child is fine
                pass
            os.close(feed)

    def wait(self, deadline):
        """The exit code, or None when still running at `deadline` (monotonic)."""
        while self.code is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.code = os.waitstatus_to_exitcode(status)
                break
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(left, 0.002))
        return self.code

    def finish(self, deadline, grace=0.0):
        """Wait until `deadline` (+ grace), then kill the whole group. (code, timed_out)."""
        code = self.wait(deadline + grace)
        timed_out = code is None
        self.kill()
        if code is None:
            code = self.wait(time.monotonic() + 5)
        return code, timed_out

    def kill(self):
        try:
            os.killpg(self.pid, 9)
        except OSError:
            pass

    def output(self):
        err = read_kept(self.err)
        return read_kept(self.out) + (f"\n[stderr]\n{err}" if err.strip() else "")


def _which(name, env):
    for folder in env.get("PATH", "/usr/bin:/bin").split(":"):
        candidate = os.path.join(folder, name)
        if os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(f"{name}: not found on PATH")


def early_exit(code, what):
    """Evidence when a child ended with success before the harness was done."""
    if code == 0:
        return [f"{what} exited with code 0 before the harness finished (an early exit)"]
    return []


# -- call: the check runs here, each call of the entry point in the child --------------------
class RemoteError(Exception):
    pass


def run_call(spec, deadline, result):
    req_r, req_w = os.pipe()
    resp_r, resp_w = os.pipe()
    argv = [sys.executable, *FLAGS, "-c", spec["scripts"]["call"], str(req_r), str(resp_w)]
    argv += [spec["solution"], spec["entry"]]
    child = Child(argv, spec, pass_fds=(req_r, resp_w))
    os.close(req_r)
    os.close(resp_w)
    evidence = result["evidence"]
    state = {"calls": 0}

    def receive():
        try:
            msg = frame_recv(resp_r, MESSAGE_LIMIT, deadline)
        except (ValueError, EOFError, TypeError):
            raise RemoteError("malformed answer from the solution's process") from None
        if msg is None:
            code = child.wait(time.monotonic() + 5)
            evidence.extend(early_exit(code, "the solution's process"))
            raise RemoteError(f"the solution's process ended (exit code {code})")
        if type(msg) is not dict:
            raise RemoteError("malformed answer from the solution's process")
        return msg

    def candidate(*args, **kwargs):
        state["calls"] += 1
        try:
            frame_send(req_w, {"args": list(args), "kwargs": kwargs})
        except OSError:
            raise RemoteError("the solution's process is gone") from None
        msg = receive()
        if "ok" in msg:
            try:
                return check_plain(msg["ok"])
            except ValueError as exc:
                raise RemoteError(f"unreadable return value: {exc}") from None
        if "lie" in msg:
            evidence.append(
                f"lying comparison: the solution returned a {str(msg['lie'])[:80]} that "
                "compares equal to an unrelated object"
            )
            raise AssertionError("the return value's comparison lies")
        if "raise" in msg:
            name, text = (list(msg["raise"]) + ["", ""])[:2]
            if str(name) == "SystemExit":
                evidence.append(f"the solution raised SystemExit({str(text)[:40]}) in a call")
            cls = getattr(builtins, str(name), None)
            if isinstance(cls, type) and issubclass(cls, Exception):
                raise cls(str(text)[:500])
            raise RemoteError(f"{str(name)[:80]}: {str(text)[:500]}")
        if "unsupported" in msg:
            raise TypeError(f"the solution returned a {str(msg['unsupported'])[:80]}")
        raise RemoteError("malformed answer from the solution's process")

    try:
        hello = receive()
        if "import_error" in hello:
            text = str(hello["import_error"])[:2000]
            if text.startswith("SystemExit"):
                evidence.append(f"the solution raised {text[:60]} while being imported")
            raise RemoteError(f"solution.py could not be loaded: {text}")
        namespace = {"__name__": "__dgm_check__"}
        exec(compile(spec["prompt"], "prompt.py", "exec"), namespace)
        namespace[spec["entry"]] = candidate
        exec(compile(spec["test"], "hidden_check.py", "exec"), namespace)
        namespace["check"](candidate)
        result["tests"]["check"] = "pass"
    except TimeoutError:
        result["tests"]["check"] = "error"
        result["timed_out"] = True
        result["log"] += "the hidden check did not finish within the time limit\n"
    except BaseException as exc:  # the check failed (or the remote call did)
        result["tests"]["check"] = "fail"
        tb = _traceback().extract_tb(exc.__traceback__)
        where = [f"{f.filename}:{f.lineno}" for f in tb if f.filename == "hidden_check.py"]
        line = f"{type(exc).__name__}: {str(exc)[:500]}"
        result["log"] += f"hidden check failed: {line} (at {', '.join(where[-1:]) or 'start'})\n"
    finally:
        os.close(req_w)
    child.finish(min(deadline, time.monotonic() + 2))
    os.close(resp_r)
    result["calls"] = state["calls"]
    result["log"] += child.output()


# -- unittest: the tests run in a guarded child that signs every frame of its report ---------
def run_unittest(spec, deadline, result):
    import hashlib
    import hmac

    key = os.urandom(32)
    rep_r, rep_w = os.pipe()
    job = {k: spec[k] for k in ("expected", "hidden", "workdir", "test_dirs")}
    job["key"] = key
    argv = [sys.executable, *FLAGS, "-c", spec["scripts"]["unittest"], str(rep_w)]
    child = Child(argv, spec, pass_fds=(rep_w,), stdin=marshal.dumps(job))
    os.close(rep_w)
    frames, size = [], 0
    while True:
        try:
            frame = frame_read(rep_r, REPORT_LIMIT, deadline)
        except TimeoutError:
            result["timed_out"] = True
            break
        except ValueError:
            result["evidence"].append("the test report held a frame past its limit (flooded)")
            break
        if frame is None:
            break
        size += len(frame)
        if size > REPORT_LIMIT:
            result["evidence"].append("the test report grew past its limit (flooded)")
            break
        frames.append(frame)
    code, timed_out = child.finish(deadline, grace=1.0)
    os.close(rep_r)
    result["timed_out"] = result["timed_out"] or timed_out
    forged, done = 0, False
    for frame in frames:
        mac, body = frame[:32], frame[32:]
        if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()):
            forged += 1
            continue
        event = marshal.loads(body)
        if event.get("t") == "result":
            result["tests"][str(event["id"])] = str(event["status"])
        elif event.get("t") == "evidence":
            result["evidence"].append(str(event["text"])[:300])
        elif event.get("t") == "done":
            done = True
        elif event.get("t") == "note":
            result["log"] += str(event["text"])[:4000] + "\n"
    if forged:
        result["evidence"].append(f"{forged} report frame(s) not signed by the harness (forged)")
    if not done and not result["timed_out"]:
        result["evidence"].extend(early_exit(code, "the test process"))
        result["log"] += f"the test process ended before finishing (exit code {code})\n"
    result["log"] += child.output()


# -- command: a native test runner; its report is parsed on the host -------------------------
def digests(workdir, names):
    import hashlib

    out = {}
    for rel in names:
        try:
            with open(os.path.join(workdir, rel), "rb") as handle:
                out[rel] = hashlib.sha256(handle.read()).hexdigest()
        except OSError:
            out[rel] = None
    return out


def run_command(spec, deadline, result):
    wanted = spec["digests"]
    before = digests(spec["workdir"], wanted)
    changed = [rel for rel, digest in before.items() if digest != wanted[rel]]
    if changed:  # staged by the host a moment ago: a mismatch is the environment's fault
        raise RuntimeError(f"hidden tests not in place before the run: {changed[:3]}")
    child = Child(list(spec["command"]), spec)
    code, timed_out = child.finish(deadline)
    result["exit_code"], result["timed_out"] = code, timed_out
    after = digests(spec["workdir"], wanted)
    for rel, digest in after.items():
        if digest != wanted[rel]:
            result["evidence"].append(f"the hidden test file {rel} was changed while the tests ran")
    if spec.get("report_path"):
        try:
            with open(spec["report_path"], "rb") as handle:
                result["report"] = handle.read(REPORT_LIMIT).decode("utf-8", "replace")
        except OSError as exc:
            result["report"] = ""
            result["log"] += f"no test report at {spec['report_path']}: {exc.strerror}\n"
        result["log"] += child.output()
    else:
        result["report"] = read_kept(child.out, whole=REPORT_LIMIT)
        result["log"] += read_kept(child.err)


def main():
    # The job arrived in the same transfer as the agent's files, into a container where
    # nothing of the agent's has run yet; it is read and deleted before anything does.
    undumpable()
    with open(sys.argv[1], "rb") as handle:
        spec = marshal.loads(handle.read())
    os.unlink(sys.argv[1])
    os.chdir(spec["workdir"])  # the children start here
    nonce = spec.pop("nonce")
    deadline = time.monotonic() + float(spec["timeout"])
    result = {"tests": {}, "evidence": [], "log": "", "timed_out": False}
    runner = {"call": run_call, "unittest": run_unittest, "command": run_command}[spec["kind"]]
    try:
        runner(spec, deadline, result)
    except Exception:
        result["harness_error"] = _traceback().format_exc(limit=4)[-2000:]
    data = marshal.dumps(result)
    if len(data) <= INLINE_LIMIT:  # small: on the line itself, one round trip less
        line = f"DGM-GRADE {nonce} inline {binascii.b2a_base64(data, newline=False).decode()}"
    else:  # a fresh name the agent's processes cannot have guessed and planted beforehand
        import hashlib

        path = f"/tmp/.dgm-verdict-{os.urandom(8).hex()}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            line = f"DGM-GRADE {nonce} {path} {hashlib.sha256(data).hexdigest()}"
        except OSError as exc:
            line = f"DGM-GRADE {nonce} - unwritable: {exc.strerror}"
    sys.stdout.write(f"\n{line}\n")
    sys.stdout.flush()


main()
