"""Ray executor performance (issue 15), on this machine.

- run: the same humaneval small `sim` run (`dgm run`, 2 workers, no final evaluation) with
  `--executor local` and `--executor ray` (a Ray instance it starts), alternating;
  evaluations per minute of the whole command (Ray's start included) and from the first
  result on (what each job costs; target >= 90 %).
- overhead: the same jobs (sleeps of `--job-seconds`) through the local executor and the
  Ray executor (a Ray instance it starts), alternating; the extra seconds per job.
- proxy: FM calls from a Ray task on a second node through that node's socket to the head's
  relay, against calls to a plain socket with the same instant handler in the same task;
  the added median latency per call (target <= 5 ms).
- scaling: a cluster of 1, 2, 4 and 8 nodes (2 sandbox slots each, jobs that sleep, no
  Docker), the `hgm` policy deciding each next job as results come back; throughput against
  n x one node (target at 8 nodes >= 85 %).

    .venv/bin/python perf/ray_bench.py [--only run,overhead,proxy,scaling] [--rounds 3]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import sys
import time
from concurrent.futures import FIRST_COMPLETED, wait
from pathlib import Path

# Loopback only: Ray would otherwise turn 127.0.0.1 into this machine's outside address.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from dgm.executors import Job, LocalExecutor  # noqa: E402
from dgm.executors.ray_executor import RayExecutor  # noqa: E402
from dgm.policies import ActionResult, Evaluate, Expand, TreeState, make_policy  # noqa: E402

SLEEP = "dgm.executors.probes:sleep"


def node_args(slots: int, **extra) -> dict:
    return {
        "num_cpus": slots, "resources": {"dgm_sandbox": slots}, "node_ip_address": "127.0.0.1",
        "include_dashboard": False, "object_store_memory": 80 * 1024 * 1024, **extra,
    }  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- run ------------------------------------------------------------------------------------------
def one_run(cwd: Path, name: str, executor: str, evals: int, seed: int) -> tuple[float, float, int]:
    import subprocess

    from archive import Archive

    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    (cwd / "run.toml").write_text("final_eval = false\n")
    start = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "dgm", "run", "--config", "run.toml", "--name", name,
         "--workers", "2", "--budget-evals", str(evals), "--seed", str(seed),
         "--executor", executor], cwd=cwd, env=env, check=True, capture_output=True,
    )  # fmt: skip
    wall = time.monotonic() - start
    archive = Archive.open(cwd / "runs" / name)
    n = len(archive.evaluations())
    # steady state: evaluations committed after the first job came back, over that span
    ran = archive.events("job_ran")
    span = ran[-1].created - ran[0].created
    evals = sum(e.data["kind"] == "evaluate" for e in ran[1:])
    return wall, span / evals * n, n


def runs(rounds: int, evals: int) -> None:
    import tempfile

    rate: dict[str, list] = {"local": [], "ray": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            for executor in ("local", "ray"):
                wall, loop, n = one_run(Path(tmp), f"{executor}-{i}", executor, evals, seed=i)
                rate[executor].append((n / wall * 60, n / loop * 60))
                print(f"run: {executor} round {i}: {n} evaluations, {wall:.0f} s", flush=True)
    for k in (0, 1):
        what = "whole command" if k == 0 else "after the first result (start-up excluded)"
        loc = statistics.median(r[k] for r in rate["local"])
        ray_ = statistics.median(r[k] for r in rate["ray"])
        print(
            f"run: {what}: local {loc:.1f} evaluations/min, ray {ray_:.1f} "
            f"({ray_ / loc:.1%} of local; target >= 90 %)"
        )


# -- overhead --------------------------------------------------------------------------------
def batch(ex, n: int, seconds: float) -> float:
    start = time.monotonic()
    futs = [ex.submit(Job("sleep", f"o{i}", SLEEP, settings={"seconds": seconds}))
            for i in range(n)]  # fmt: skip
    for f in futs:
        assert f.result().status == "done"
    return time.monotonic() - start


def overhead(rounds: int, jobs: int, seconds: float, workers: int) -> None:
    t0 = time.monotonic()
    rex = RayExecutor(workers, prepare=None, init_options={"num_cpus": workers})
    print(f"overhead: Ray started in {time.monotonic() - t0:.1f} s (once per run)")
    lex = LocalExecutor(workers)
    batch(rex, workers * 2, 0.0)  # warm the worker processes, as a run's first jobs do
    local, remote = [], []
    for _ in range(rounds):
        local.append(batch(lex, jobs, seconds))
        remote.append(batch(rex, jobs, seconds))
    lex.shutdown()
    rex.shutdown()
    ideal = jobs * seconds / workers
    lm, rm = statistics.median(local), statistics.median(remote)
    print(f"overhead: {jobs} jobs of {seconds} s on {workers} workers, {rounds} rounds "
          f"alternating; ideal {ideal:.2f} s")  # fmt: skip
    print(f"  local {lm:.2f} s, ray {rm:.2f} s (runs: local {_fmt(local)}, ray {_fmt(remote)})")
    per_job = (rm - lm) / jobs * workers * 1000
    print(f"  ray adds {per_job:.1f} ms per job; ray/local throughput {lm / rm:.1%}")


def _fmt(xs) -> str:
    return "/".join(f"{x:.2f}" for x in xs)


# -- proxy -------------------------------------------------------------------------------------
class InstantGateway:
    """The head's side with no model: what the relay adds is all that is timed."""

    model = "bench"
    session_connections, max_request_bytes = 8, 4 * 1024 * 1024
    ANSWER = json.dumps({"choices": [{"message": {"role": "assistant", "content": "ok"}}]})

    def handle_http(self, session, body: bytes):
        if session is not None:
            session.add(0, 0.0)  # counted as the gateway counts an answer
        return 200, self.ANSWER.encode()

    def call_deadline(self) -> float:
        return 5.0

    def forget(self, session) -> None:
        pass

    _forget = forget  # the name before the FM package's rework


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str):
        super().__init__("fm")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def _time_calls(path: str, n: int) -> list[float]:
    conn = _UnixHTTP(path)
    body = json.dumps({"model": "bench", "messages": [{"role": "user", "content": "x" * 2000}]})
    out = []
    for _ in range(n):
        start = time.perf_counter()
        conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200, resp.status
        out.append((time.perf_counter() - start) * 1000)
    conn.close()
    return out


@ray.remote(num_cpus=0, resources={"bench_worker": 1})
def _proxy_probe(mailbox, calls: int, blocks: int) -> dict:
    from dgm.executors.proxy import RemoteGateway
    from dgm.fm.server import UnixHTTPServer
    from dgm.fm.session import SessionTags

    direct_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-direct-{os.getpid()}"
    direct_dir.mkdir(exist_ok=True)
    gw = InstantGateway()
    server = UnixHTTPServer(str(direct_dir / "fm.sock"), lambda b: gw.handle_http(None, b), "b")
    remote = RemoteGateway(mailbox, "bench")
    direct, relayed = [], []
    with remote.session(SessionTags("bench", 0, "t", "solve")) as fm:
        for _ in range(blocks):  # alternating blocks: the machine's load hits both alike
            direct += _time_calls(str(direct_dir / "fm.sock"), calls)
            relayed += _time_calls(str(fm.socket_dir / "fm.sock"), calls)
        n = fm.calls
    server.stop()
    return {"direct": direct, "relayed": relayed, "answered": n}


def proxy(calls: int, blocks: int) -> None:
    cluster = Cluster(
        initialize_head=True, head_node_args=node_args(1, gcs_server_port=free_port())
    )
    cluster.add_node(**node_args(1, resources={"dgm_sandbox": 1, "bench_worker": 1}))
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        from dgm.executors.relay import HeadRelay

        relay = HeadRelay(InstantGateway())
        out = ray.get(_proxy_probe.remote(relay.mailbox, calls, blocks))
        relay.close()
    finally:
        ray.shutdown()
        cluster.shutdown()
    d, r = statistics.median(out["direct"]), statistics.median(out["relayed"])
    p90 = np.percentile(out["relayed"], 90)
    print(f"proxy: {calls * blocks} calls each way from a task on the worker node "
          f"(2 kB request); the head answered {out['answered']}")  # fmt: skip
    print(
        f"  median direct {d:.2f} ms, through the node proxy and the head {r:.2f} ms "
        f"(p90 {p90:.2f} ms): added {r - d:.2f} ms per call (target <= 5 ms)"
    )


# -- scaling -----------------------------------------------------------------------------------
def drive(ex: RayExecutor, capacity: int, window: float, seconds: float, seed: int) -> int:
    """The hgm policy chooses each next job as results arrive; jobs finished in `window`."""
    tasks = [f"t{i}" for i in range(40)]
    tree = TreeState(tasks)
    policy = make_policy("hgm", seed, tasks=tasks)
    rng = np.random.default_rng(seed)
    futures: dict = {}
    groups: dict[int, list] = {}
    done, gid, start = 0, 0, time.monotonic()
    job = {"seconds": seconds}
    while time.monotonic() - start < window:
        while len(futures) < capacity:
            action = policy.next_action(tree)
            if isinstance(action, Expand):
                tree.mark_in_flight(expand=action.parent)
                units = [("expand", action.parent, None)]
            elif isinstance(action, Evaluate):
                units = [("evaluate", action.node, t) for t in action.tasks]
                for t in action.tasks:
                    tree.mark_in_flight(evaluate=action.node, task=t)
            else:
                break
            gid += 1
            groups[gid] = [action, len(units), {}]
            for kind, node, task in units:
                fut = ex.submit(Job(kind, f"{gid}-{task}", SLEEP, settings=job))
                futures[fut] = (gid, kind, node, task)
        finished, _ = wait(list(futures), return_when=FIRST_COMPLETED)
        for fut in finished:
            g, kind, node, task = futures.pop(fut)
            assert fut.result().status == "done"
            done += 1
            action, left, successes = groups[g]
            if kind == "expand":
                tree.clear_in_flight(expand=node)
                valid = bool(rng.random() < 0.7)
                child = tree.add_node(node, "valid" if valid else "invalid")
                groups[g][2] = ActionResult(child=child, child_valid=valid)
            else:
                tree.clear_in_flight(evaluate=node, task=task)
                ok = bool(rng.random() < 0.5)
                tree.add_result(node, task, ok)
                successes[task] = ok
            groups[g][1] -= 1
            if groups[g][1] == 0:
                result = groups[g][2]
                policy.tell(action, result if kind == "expand" else ActionResult(
                    successes=successes))  # fmt: skip
                del groups[g]
    for fut in futures:
        fut.result()
    return done


def scaling(sizes: list[int], slots: int, window: float, seconds: float) -> None:
    t0 = time.monotonic()
    cluster = Cluster(initialize_head=True,
                      head_node_args=node_args(slots, gcs_server_port=free_port()))  # fmt: skip
    ray.init(address=cluster.address, _node_ip_address="127.0.0.1", log_to_driver=False)
    ex = RayExecutor(slots, prepare=None)
    rates = {}
    try:
        for n in sizes:
            while len(ex.nodes) < n:
                cluster.add_node(**node_args(slots))
                cluster.wait_for_nodes()
                ex._refresh(force=True)
            ex.workers = n * slots
            batch(ex, n * slots, 0.0)  # every node's worker processes started
            done = drive(ex, n * slots, window, seconds, seed=n)
            rates[n] = done / window
            ideal = n * slots / seconds
            print(
                f"scaling: {n} node(s), {n * slots} slots: {rates[n]:.2f} jobs/s "
                f"({rates[n] / ideal:.1%} of {ideal:.2f} ideal)",
                flush=True,
            )
    finally:
        ex.shutdown()
        ray.shutdown()
        cluster.shutdown()
    base = rates[sizes[0]] / sizes[0]
    growth = ", ".join(f"{n}: {rates[n] / base:.2f}x" for n in sizes)
    print(f"scaling: against n x one node ({base:.2f} jobs/s per node): {growth}")
    last = sizes[-1]
    print(
        f"  at {last} nodes {rates[last] / (last * base):.1%} of {last}x one node "
        f"(target >= 85 %); setup and measurement took {time.monotonic() - t0:.0f} s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="run,overhead,proxy,scaling")
    ap.add_argument("--evals", type=int, default=20, help="evaluations per `run` round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=40)
    ap.add_argument("--job-seconds", type=float, default=0.5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--sizes", default="1,2,4,8")
    ap.add_argument("--slots", type=int, default=2)
    ap.add_argument("--window", type=float, default=30.0)
    ap.add_argument("--sleep", type=float, default=2.0, help="seconds per simulated job")
    args = ap.parse_args()
    only = set(args.only.split(","))
    if "run" in only:
        runs(args.rounds, args.evals)
    if "overhead" in only:
        overhead(args.rounds, args.jobs, args.job_seconds, args.workers)
    if "proxy" in only:
        proxy(args.calls, args.rounds)
    if "scaling" in only:
        scaling([int(x) for x in args.sizes.split(",")], args.slots, args.window, args.sleep)


if __name__ == "__main__":
    main()
