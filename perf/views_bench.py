"""Speed of the views on a large archive: the viewer's tree endpoint (cold: built from the
archive; warm: cached), one node's endpoint, `dgm plot`, the final agent, the lineage walks
(by hand against networkx) and `dgm export --graph`. Medians over repeats.

The archive is built with the real `archive.Archive` API (about 50 ms a node in git, so a
10,000-node archive takes a few minutes the first time) and kept for the next runs.

    .venv/bin/python perf/views_bench.py [--nodes 10000] [--dir /tmp/dgm-views-bench]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import networkx as nx
import numpy as np

from archive import Archive
from dgm.run.config import RunConfig
from dgm.run.rundir import RunDir
from dgm.views import Snapshot, ViewerServer, plot_all, tree_layout
from dgm.views.graph import lineage_graph, write_graph

TASKS = [f"task-{i}" for i in range(30)]
OUTCOMES = ["resolved", "unresolved", "empty", "error"]


def build(root: Path, n: int) -> RunDir:
    """A run of `n` nodes: a random recursive tree, 10% invalid, 3 evaluations a node."""
    run = RunDir(root)
    if (root / ".complete").exists():
        return run
    if root.exists():
        raise SystemExit(f"{root} holds a half-built archive: remove it first")
    root.mkdir(parents=True)
    run.config_file.write_text(RunConfig(name=root.name).to_toml())
    run.logs.mkdir()
    with tempfile.TemporaryDirectory() as seed:
        Path(seed, "agent.py").write_text("".join(f"line {i}\n" for i in range(200)))
        archive = Archive.create(root, seed)
    rng = np.random.default_rng(0)
    parents = [0] + [int(rng.integers(max(0, i - 300), i)) for i in range(1, n)]
    lock = threading.Lock()
    made = [1]

    def add(i: int) -> None:
        # A new file per node: applies on any ancestry (line edits could collide).
        diff = f"--- /dev/null\n+++ b/notes/{i}.md\n@@ -0,0 +1,2 @@\n+# change {i}\n+text\n"
        while True:  # children wait for their parent to exist
            with lock:
                if parents[i] < made[0]:
                    break
            time.sleep(0.005)
        status = "invalid" if rng.random() < 0.1 else "valid"
        node = archive.add_child(parents[i], diff=diff, entry=TASKS[i % 30], status=status,
                                 problem_statement=f"Fix task {i % 30}.",
                                 meta={"expansion": i, "diagnosis": {"weakness": "w"}})  # fmt: skip
        with lock:
            made[0] = max(made[0], node.id + 1)

    start = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(add, i) for i in range(1, n)]
        for i, fut in enumerate(futures, start=1):
            if fut.exception():
                made[0] = n  # let waiting workers through, then stop
                raise fut.exception()
            if i % 1000 == 0:
                print(f"  built {i} nodes in {time.monotonic() - start:.0f} s", flush=True)
    for node in range(n):
        for task in rng.choice(TASKS, size=3, replace=False):
            archive.record_fm_call(f"s{node}", node, str(task), "solve", "sim", 900, 100,
                                   0.001, False, 1.0)  # fmt: skip
            archive.record_evaluation(node, "bench", str(task), str(rng.choice(OUTCOMES)),
                                      tokens=1000, cost=0.001, seconds=1.0)  # fmt: skip
    (root / ".complete").write_text("")
    return run


def timed(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def nx_layout(snap: Snapshot) -> dict[int, tuple[float, int]]:
    """`tree_layout` written over networkx's post-order walk: the variant measured (and not
    kept, being slower) against the hand-written walk."""
    graph = nx.DiGraph()
    graph.add_edges_from((r.parent, i) for i, r in snap.nodes.items() if r.parent is not None)
    pos: dict[int, tuple[float, int]] = {}
    leaf = 0.0
    for node in nx.dfs_postorder_nodes(graph, snap.root):
        row = snap.nodes[node]
        if row.children:
            pos[node] = ((pos[row.children[0]][0] + pos[row.children[-1]][0]) / 2, row.depth)
        else:
            pos[node], leaf = (leaf, row.depth), leaf + 1.0
    return pos


def lineage_walks(root: Path, repeats: int) -> None:
    """The final agent, the tree layout (by hand and over networkx, alternated), the
    joining path of `dgm compare`, and `dgm export --graph` in both formats."""
    med = statistics.median
    archive = Archive.open(root)
    snap = Snapshot.results_only(archive)
    assert nx_layout(snap) == tree_layout(snap)
    hand, over_nx = [], []
    for _ in range(repeats * 2):
        hand += timed(lambda: tree_layout(snap), 1)
        over_nx += timed(lambda: nx_layout(snap), 1)
    final = timed(snap.final_agent, repeats * 2)
    far = max(snap.nodes, key=lambda i: snap.nodes[i].depth)

    def join() -> None:
        snap.__dict__.pop("lineage", None)  # the graph is built on first use: count it
        snap.joining_path(far, len(snap.nodes) // 2)

    joins = timed(join, repeats)
    print(f"final agent (the run's policy, from the snapshot): median {med(final) * 1000:.1f} ms")
    ratio = med(over_nx) / med(hand)
    print(f"tree layout, by hand: median {med(hand) * 1000:.1f} ms; over networkx: median "
          f"{med(over_nx) * 1000:.1f} ms (x{ratio:.1f}; kept by hand)")  # fmt: skip
    print(f"joining path (networkx, graph built each time): median {med(joins) * 1000:.1f} ms")
    with tempfile.TemporaryDirectory() as out:
        for suffix in (".graphml", ".json"):
            path = Path(out) / f"lineage{suffix}"
            t = timed(lambda p=path: write_graph(lineage_graph(archive, root.name), p), 3)
            size = path.stat().st_size / 1e6
            print(f"`export --graph` {suffix:9} (in process): median {med(t):.2f} s, {size:.1f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=10_000)
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "dgm-views-bench")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    root = args.dir / f"bench-{args.nodes}"
    print(f"archive of {args.nodes} nodes at {root}")
    run = build(root, args.nodes)

    server = ViewerServer(run)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def fetch(path: str) -> bytes:
        with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=60) as resp:
            return resp.read()

    def cold_tree() -> None:
        server.data._tree = None  # drop the cache: measure the build from the archive
        fetch("/api/tree")

    cold = timed(cold_tree, args.repeats)
    warm = timed(lambda: fetch("/api/tree"), args.repeats * 4)
    size = len(fetch("/api/tree"))
    rng = np.random.default_rng(1)
    nodes = [int(x) for x in rng.integers(1, args.nodes, size=50)]
    node_times = [timed(lambda n=n: fetch(f"/api/node/{n}"), 1)[0] for n in nodes]
    server.shutdown()

    with tempfile.TemporaryDirectory() as out:
        plots = timed(lambda: plot_all(Snapshot.from_archive(Archive.open(root)), Path(out),
                                       run.run_id), 3)  # fmt: skip
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dgm", "plot", str(root), "--out", out],
                       check=True, env=env, capture_output=True)  # fmt: skip
        cli = time.perf_counter() - t

    med = statistics.median
    print(f"tree endpoint, cold (built from the archive): median {med(cold):.3f} s "
          f"(max {max(cold):.3f}) over {len(cold)}; {size / 1e6:.2f} MB")  # fmt: skip
    print(f"tree endpoint, warm (cached):                 median {med(warm) * 1000:.1f} ms")
    print(
        f"node endpoint (with its diff):                median {med(node_times) * 1000:.1f} ms"
        f" (p90 {np.percentile(node_times, 90) * 1000:.1f} ms) over {len(node_times)} nodes"
    )
    print(f"plot (3 PNGs, in process):                    median {med(plots):.2f} s")
    print(f"`dgm plot` command (with interpreter start):  {cli:.2f} s")
    lineage_walks(root, args.repeats)


if __name__ == "__main__":
    main()
