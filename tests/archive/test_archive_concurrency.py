"""Writers in threads and processes never collide; a writer killed mid-add leaves no trace."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from archive import Archive

REPO = Path(__file__).resolve().parents[2]

# A writer process: adds children (from directories and diffs) and records results forever,
# or `count` times, printing each new node as JSON.
WRITER = """
import json, random, sys
from pathlib import Path
from archive import Archive
run, seed, work, count = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
archive = Archive.open(run)
rng = random.Random(seed)
work.mkdir(parents=True, exist_ok=True)
print("ready", flush=True)
i = 0
while count < 0 or i < count:
    last = max(n.id for n in archive.nodes()) if i % 5 == 0 else last
    parent = rng.randint(0, last)
    if i % 2:
        node = archive.add_child(parent, diff="")
    else:
        d = work / f"c{i}"
        archive.materialize(parent, d)
        (d / "agent.py").write_text(f"writer {seed} step {i}\\n")
        node = archive.add_child(parent, files_dir=d, meta={"writer": seed})
    last = max(last, node.id)
    archive.record_evaluation(node.id, "b", f"t{i}", rng.choice(["resolved", "error"]))
    print(json.dumps([node.id, parent]), flush=True)
    i += 1
"""


def start_writer(run: Path, seed: int, work: Path, count: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(run), str(seed), str(work), str(count)],
        stdout=subprocess.PIPE, text=True, env=env, cwd=REPO, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_threads_add_children_without_collisions(archive: Archive, tmp_path):
    def work(k: int) -> list[tuple[int, int]]:
        made = []
        for i in range(6):
            parent = (k + i) % 3 if archive.has_node(2) else 0
            node = archive.add_child(parent, diff="", meta={"thread": k})
            archive.record_evaluation(node.id, "b", f"t{k}", "resolved" if i % 2 else "empty")
            made.append((node.id, parent))
        return made

    with ThreadPoolExecutor(4) as pool:
        made = [m for ms in pool.map(work, range(4)) for m in ms]
    ids = sorted(i for i, _ in made)
    assert ids == list(range(1, 25))
    assert all(archive.node(i).parent == p for i, p in made)
    assert archive.check() == []
    assert archive.clade_stats(0).trials == 24


def test_processes_add_children_without_collisions(archive: Archive, tmp_path):
    procs = [start_writer(archive.run_dir, s, tmp_path / f"w{s}", 5) for s in range(3)]
    made = []
    for proc in procs:
        # read() and not communicate(): readline() may already hold some lines in its buffer
        out = proc.stdout.read()
        assert proc.wait(timeout=120) == 0
        made += [tuple(json.loads(line)) for line in out.splitlines()]
    assert sorted(i for i, _ in made) == list(range(1, 16))
    assert all(archive.node(i).parent == p for i, p in made)
    assert archive.check() == []
    assert archive.clade_stats(0).trials == 15


def test_a_writer_killed_at_random_moments_leaves_a_sound_archive(archive: Archive, tmp_path):
    rng = random.Random(7)
    for round_ in range(6):
        proc = start_writer(archive.run_dir, round_, tmp_path / f"w{round_}", -1)
        time.sleep(rng.uniform(0.05, 0.4))
        os.killpg(proc.pid, signal.SIGKILL)  # the writer and any git it is running
        proc.wait()
        proc.stdout.close()
        reopened = Archive.open(archive.run_dir)
        assert reopened.check() == []
        nodes = reopened.nodes()
        assert [n.id for n in nodes] == list(range(len(nodes)))
    assert len(Archive.open(archive.run_dir).nodes()) > 6
