"""Archive performance: grow a random-parent tree and time each operation as it grows.

Each child changes 1-3 files of a 20-file, 2,000-line seed (materialise the parent, edit,
add_child from the directory); after each child, 10 evaluations go to random nodes. At 1,000
nodes and at the final size (10,000 by default) it prints medians of add_child, materialize,
diff, record_evaluation (with its ancestor updates), clade_stats, and the time `dgm tree`
takes to render the whole archive to a file. Targets (issue 3): add_child <= 25 ms,
materialize <= 15 ms, diff <= 10 ms, record_evaluation <= 2 ms, clade_stats <= 0.1 ms,
tree <= 3 s.

    .venv/bin/python perf/archive_bench.py [--nodes 10000] [--keep DIR]
    .venv/bin/python perf/archive_bench.py --objects [--rounds 200]

`--objects` compares, on a 20-file tree, the archive's batched requests to long-running git
processes with GitPython's own object access (per-object readers, object model, writers): the
figures behind what archive.gitrepo uses.

`build_archive()` is reusable by other benchmarks that need a large archive.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from archive import OUTCOMES, Archive  # noqa: E402

SEED_FILES, SEED_LINES = 20, 100
TARGETS_MS = {
    "add_child": 25,
    "materialize": 15,
    "diff": 10,
    "record_evaluation": 2,
    "clade_stats": 0.1,
    "tree (whole archive)": 3000,
    "git start-up (baseline)": None,
}


def write_seed(dest: Path) -> Path:
    """20 Python files of 100 lines each, two of them in a subpackage."""
    for i in range(SEED_FILES):
        path = dest / ("tools" if i >= 18 else "") / f"module_{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"def f_{i}_{j}(x):  # seed\n" for j in range(SEED_LINES)))
    return dest


def mutate(d: Path, rng: random.Random, tag: int) -> None:
    """Change 1-3 files: replace or insert a few lines."""
    files = sorted(d.rglob("*.py"))
    for path in rng.sample(files, rng.randint(1, 3)):
        lines = path.read_text().splitlines(keepends=True)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(lines))
            new = f"    return x + {tag}  # child {tag}\n"
            if rng.random() < 0.5:
                lines[at] = new
            else:
                lines.insert(at, new)
        path.write_text("".join(lines))


def build_archive(
    root: Path,
    nodes: int,
    evals_per_node: int = 10,
    seed: int = 0,
    on_step: Callable[[Archive, int, dict[str, float]], None] | None = None,
) -> Archive:
    """An archive of `nodes` nodes (random parents) and evals_per_node * nodes evaluations.

    `on_step(archive, n_nodes, timings)` is called after each child with that step's times."""
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="dgm-bench-"))
    try:
        archive = Archive.create(root, write_seed(work / "seed"))
        for n in range(1, nodes):
            times: dict[str, float] = {}
            d = work / "child"
            shutil.rmtree(d, ignore_errors=True)
            parent = rng.randrange(n)
            t = time.perf_counter()
            archive.materialize(parent, d)
            times["materialize"] = time.perf_counter() - t
            mutate(d, rng, n)
            t = time.perf_counter()
            archive.add_child(parent, files_dir=d, entry=f"task/{rng.randrange(50)}")
            times["add_child"] = time.perf_counter() - t
            t = time.perf_counter()
            for _ in range(evals_per_node):
                # the four honest outcomes, weighted as before `tampered` existed
                outcome = rng.choices(OUTCOMES[:4], weights=(4, 4, 1, 1))[0]
                archive.record_evaluation(
                    rng.randrange(n + 1), "bench", f"task/{rng.randrange(50)}", outcome,
                    tokens=1000, cost=0.01, seconds=3.0,
                )  # fmt: skip
            times["record_evaluation"] = (time.perf_counter() - t) / max(evals_per_node, 1)
            if on_step:
                on_step(archive, n + 1, times)
        return archive
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(archive: Archive, window: dict[str, list[float]], rng: random.Random) -> dict:
    """Medians (ms) of the recent build steps plus dedicated samples of reads."""
    count = len(archive.nodes())
    out = {k: statistics.median(v) * 1000 for k, v in window.items()}
    diffs = []
    for _ in range(50):
        a, b = rng.randrange(count), rng.randrange(count)
        t = time.perf_counter()
        archive.diff(a, b)
        diffs.append(time.perf_counter() - t)
    out["diff"] = statistics.median(diffs) * 1000
    reads = []
    for _ in range(2000):
        node = rng.randrange(count)
        t = time.perf_counter()
        archive.clade_stats(node)
        reads.append(time.perf_counter() - t)
    out["clade_stats"] = statistics.median(reads) * 1000
    out["tree (whole archive)"] = render_tree(archive.run_dir) * 1000
    out["git start-up (baseline)"] = git_startup() * 1000
    return out


def git_startup() -> float:
    """Median seconds of `git --version`: what one process costs on this machine right now
    (add_child runs 4 git processes, materialize and diff one each)."""
    times = []
    for _ in range(30):
        t = time.perf_counter()
        subprocess.run(["git", "--version"], capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def render_tree(run_dir: Path) -> float:
    """Seconds for `dgm tree RUN > file` in-process (no interpreter start-up), best of 3."""
    from dgm.cli.archive_cmd import tree

    best = float("inf")
    for _ in range(3):
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            t = time.perf_counter()
            tree(run=str(run_dir), depth=None, min_evals=0, sort="id")
            best = min(best, time.perf_counter() - t)
    return best


def objects_bench(rounds: int) -> None:
    """Medians (ms) of reading a 20-file tree and of writing its files (one changed), each
    GitPython way against the archive's, alternating; ratios against the archive's."""
    import io

    import git
    from gitdb import IStream
    from gitdb.db import LooseObjectDB

    from archive.gitstore import parse_tree

    work = Path(tempfile.mkdtemp(prefix="dgm-objects-bench-"))
    try:
        archive = Archive.create(work / "run", write_seed(work / "seed"))
        store, tree = archive.git, archive._commit_tree(0)[1]
        repo, files = store.repos.repo(), sorted((work / "seed").rglob("*.py"))
        loose = LooseObjectDB(str(store.path / "objects"))

        def walk(read_many: Callable[[list[str]], list[bytes]]) -> Callable[[], None]:
            """Read the tree, its blobs in one request, then its subtrees (as materialize)."""

            def run(sha: str = tree) -> None:
                entries = parse_tree(read_many([sha])[0])
                read_many([s for mode, _, s in entries if mode != "40000"])
                for mode, _, s in entries:
                    if mode == "40000":
                        run(s)

            return run

        def store_each(db: object) -> Callable[[], None]:
            def run() -> None:
                for path in files:
                    data = path.read_bytes()
                    db.store(IStream("blob", len(data), io.BytesIO(data)))

            return run

        variants = {
            "read: archive, batched cat-file": walk(store.repos.read_objects),
            "read: repo.git.get_object_data": walk(
                lambda shas: [repo.git.get_object_data(s)[3] for s in shas]
            ),
            "read: repo.odb.stream": walk(
                lambda shas: [repo.odb.stream(bytes.fromhex(s)).read() for s in shas]
            ),
            "read: git.Tree objects": lambda: [
                b.data_stream.read()
                for b in git.Tree(repo, bytes.fromhex(tree), path="").traverse()
                if b.type == "blob"
            ],
            "write: archive, hash-object": lambda: store.repos.write_files(files),
            "write: gitdb LooseObjectDB": store_each(loose),
            "write: repo.odb (GitCmdObjectDB)": store_each(repo.odb),
        }
        times: dict[str, list[float]] = {k: [] for k in variants}
        for n in range(rounds):
            for name, run in variants.items():
                if "GitCmdObjectDB" in name and n % 10:
                    continue  # a git process per object: a tenth of the rounds is plenty
                files[n % len(files)].write_text(f"# round {n} {name}\n", encoding="utf-8")
                t = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - t)
        archive.close()
        repo.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'median (ms), load ' + str(os.getloadavg()[0]):40} {'ms':>8} {'vs archive':>11}")
    for name, got in times.items():
        base = times["read: archive, batched cat-file" if name.startswith("read") else
                     "write: archive, hash-object"]  # fmt: skip
        ratio = statistics.median(got) / statistics.median(base)
        print(f"{name:40} {statistics.median(got) * 1000:8.3f} {ratio:10.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, help="Build the archive here and keep it.")
    parser.add_argument("--objects", action="store_true", help="GitPython object access only.")
    parser.add_argument("--rounds", type=int, default=200, help="Rounds of --objects.")
    args = parser.parse_args()
    if args.objects:
        objects_bench(args.rounds)
        return
    checkpoints = sorted({min(1000, args.nodes), args.nodes})
    tmp = Path(tempfile.mkdtemp(prefix="dgm-archive-bench-"))
    root = args.keep or tmp / "run"
    rng = random.Random(1)
    window: dict[str, list[float]] = {}
    results: dict[int, dict] = {}

    def on_step(archive: Archive, n: int, times: dict[str, float]) -> None:
        for k, v in times.items():
            window.setdefault(k, []).append(v)
            del window[k][:-200]  # the last 200 steps before a checkpoint
        if n in checkpoints:
            results[n] = measure(archive, window, rng)
            print(f"{n} nodes: " + ", ".join(f"{k} {v:.3f} ms" for k, v in results[n].items()))
        elif n % 500 == 0:
            print(f"  ... {n} nodes", flush=True)

    start = time.perf_counter()
    try:
        archive = build_archive(root, args.nodes, on_step=on_step)
        took = time.perf_counter() - start
        evals = len(archive.evaluations())
        print(f"built {args.nodes} nodes, {evals} evaluations in {took:.0f} s")
        print(f"check: {archive.check() or 'sound'}")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    first, last = checkpoints[0], checkpoints[-1]
    print(f"\n{'median (ms)':24} {first:>10} {last:>10} {'growth':>8} {'target':>8}")
    for key, target in TARGETS_MS.items():
        a, b = results[first][key], results[last][key]
        ok = "" if target is None else "ok" if b <= target else "OVER"
        print(f"{key:24} {a:10.3f} {b:10.3f} {b / a:7.2f}x {target or '-':>8} {ok}")


if __name__ == "__main__":
    main()
