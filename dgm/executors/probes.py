"""Job functions of the executors' own tests and benchmarks (the loop's are in workbench).

`sleep` stands in for a job that takes time without Docker; `fm_probe` runs a real sandbox
whose program asks the model through the node's FM socket, and reports what it could see.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from dgm.executors.base import Job, JobContext, source_bytes
from dgm.fm import SessionTags

# A program for the sandbox: one chat call over the Unix socket at $DGM_FM_SOCKET, then what
# of the host's environment it can see (no key may be there).
PROBE = r"""
import http.client, json, os, socket, sys
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(os.environ["DGM_FM_SOCKET"])
c = C("fm")
body = json.dumps({"model": os.environ["DGM_MODEL"],
                   "messages": [{"role": "user", "content": sys.argv[1]}]})
c.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
r = c.getresponse()
print(json.dumps({"status": r.status, "body": r.read().decode(), "env": sorted(os.environ)}))
"""


def sleep(job: Job, ctx: JobContext) -> dict:
    """Sleep `settings.seconds` (then raise `settings.fail` if given); record start and end
    in `settings.marks` (a folder shared by the test's nodes on this machine), so a test can
    count how often each job ran."""
    marks = job.settings.get("marks")
    if marks:
        Path(marks, f"{job.key}.{os.getpid()}.start").write_text(ctx.node)
    time.sleep(float(job.settings.get("seconds", 0.0)))
    if job.settings.get("fail"):  # how an environment fault leaves a job: an exception
        raise RuntimeError(job.settings["fail"])
    if marks:
        Path(marks, f"{job.key}.{os.getpid()}.end").write_text(ctx.node)
    ctx.logs[f"{job.key}.txt"] = f"slept on {ctx.node}\n".encode()
    return {"node": ctx.node, "pid": os.getpid()}


def fm_calls(job: Job, ctx: JobContext) -> dict:
    """`settings.calls` calls through this node's socket from this process, in a session
    capped at `settings.max_calls` by the head: the statuses the head gave."""
    import http.client
    import json
    import socket

    class Conn(http.client.HTTPConnection):
        def __init__(self, path: str):
            super().__init__("fm")
            self.socket_path = path

        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(self.socket_path)

    tags = SessionTags(run="probe", node=1, task=job.key, role="solve")
    statuses = []
    with ctx.gateway.session(tags, max_calls=job.settings.get("max_calls")) as fm:
        conn = Conn(str(fm.socket_dir / "fm.sock"))
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        for _ in range(job.settings.get("calls", 1)):
            conn.request("POST", "/v1/chat/completions", body)
            resp = conn.getresponse()
            statuses.append((resp.status, json.loads(resp.read()).get("error", {}).get("code")))
        conn.close()
    return {"statuses": statuses, "calls": fm.calls}


def fm_probe(job: Job, ctx: JobContext) -> dict:
    """One sandbox on this node calls the model through this node's FM socket."""
    import json

    from sandbox import Sandbox, SandboxConfig

    tags = SessionTags(run=job.tags.get("run", "probe"), node=job.tags.get("node", 0),
                       task=job.key, role="solve")  # fmt: skip
    with ctx.gateway.session(tags) as fm, Sandbox(
        SandboxConfig(), labels={"dgm.run": tags.run, "dgm.node": str(tags.node),
                                 "dgm.task": job.key},
        socket_dir=fm.socket_dir, env=fm.env,
    ) as sb:  # fmt: skip
        res = sb.run(["python3", "-c", PROBE, job.settings.get("prompt", "hello")], timeout=120)
        # a host-side call of the worker (as a diagnosis makes), through the same session
        host_reply = ctx.gateway.complete(fm, [{"role": "user", "content": "from the host"}])
    reply = json.loads(res.stdout.strip().splitlines()[-1]) if res.exit_code == 0 else None
    return {
        "node": ctx.node, "exit_code": res.exit_code, "stderr": res.stderr[-2000:],
        "reply": reply, "calls": fm.calls, "tokens": fm.tokens,
        "host_reply": host_reply, "worker_env": sorted(os.environ),
    }  # fmt: skip


def prepare_image(image: str | None = None) -> dict:
    """A node's preparation for tests: a node started with DGM_PROBE_NO_IMAGES set cannot
    make any image a task names (as a node that cannot build polyglot's toolchains)."""
    import socket

    if image is not None and os.environ.get("DGM_PROBE_NO_IMAGES"):
        raise RuntimeError(f"no recipe makes {image} on this node")
    time.sleep(0.5)  # a preparation takes time: jobs that need it must wait for it
    return {"host": socket.gethostname(), "image": image or ""}


def sandbox_sleep(job: Job, ctx: JobContext) -> dict:
    """A sandbox that runs `sleep` for ten minutes (its job dies first, in the tests)."""
    from sandbox import Sandbox, SandboxConfig

    with Sandbox(SandboxConfig(), labels={"dgm.run": job.settings["run"]}) as sb:
        Path(job.settings["marks"], f"{job.key}.started").write_text(ctx.node)
        sb.run(["sleep", "600"], timeout=700)
    return {"node": ctx.node}


def source_size(job: Job, ctx: JobContext) -> int:
    """How many bytes of agent source reached the job."""
    return len(source_bytes(job))
