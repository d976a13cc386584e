"""Overhead of a Sandbox session against a bare `docker run`.

One round times, alternately, (a) a full `Sandbox` session: start, copy in a 100-file
directory, run `python3 -c` (writing the one result file), copy that file
out, remove; and (b) a bare `docker run --rm --network none IMAGE python3 -c pass`. Prints
both medians and their ratio (target: <= 1.5).

With `--ops`, times instead each container life-cycle call the sandbox makes, through the
`docker` command line and through the Docker SDK (alternating), to show where one is faster.

    .venv/bin/python perf/sandbox_bench.py [--rounds N] [--ops]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

# Run from a checkout without installing: the repository root holds the packages.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox import (  # noqa: E402
    Sandbox,
    SandboxConfig,
    engine,
    ensure_image,
    remove_orphans,
    wait_for_removals,
)

Times = dict[str, list[float]]

FILES = 100
TARGET_RATIO = 1.5
WRITE_RESULT = "open('/out/result.txt', 'w').write('done')"


def make_workspace(root: Path) -> Path:
    """A 100-file directory of small Python modules in a few packages."""
    src = root / "src"
    for i in range(FILES):
        path = src / f"pkg{i % 5}" / f"module_{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'"""Module {i}."""\n\n\ndef f_{i}(x):\n    return x + {i}\n' * 4)
    return src


def time_session(src: Path, dest: Path, run_id: str, background: bool = False) -> float:
    """Wall time of one full Sandbox session (with `background`, removal is handed to a
    background thread, as a run's workers do, and not waited for)."""
    start = time.perf_counter()
    config = SandboxConfig(background_removal=background)
    with Sandbox(config, labels={"dgm.run": run_id, "dgm.task": "bench"}) as sb:
        sb.copy_in(src, "/work")
        # `python3 -c pass`, plus writing the one file to copy out (no extra command).
        res = sb.run(["python3", "-c", WRITE_RESULT])
        sb.copy_out("/out", dest)
    elapsed = time.perf_counter() - start
    if res.exit_code != 0 or not (dest / "result.txt").is_file():
        raise SystemExit(f"the sandbox session failed: {res.stderr[-300:]}")
    return elapsed


def time_bare(image: str) -> float:
    """Wall time of a bare `docker run --rm --network none IMAGE python3 -c pass`."""
    start = time.perf_counter()
    cmd = ["docker", "run", "--rm", "--network", "none", image, "python3", "-c", "pass"]
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def _timed(into: Times, key: str, fn, *args, **kwargs) -> None:
    start = time.perf_counter()
    fn(*args, **kwargs)
    into.setdefault(key, []).append(time.perf_counter() - start)


def _cli(*args: str) -> None:
    subprocess.run(["docker", *args], check=True, capture_output=True)


def _cli_round(into: Times, image: str, name: str, run_id: str) -> None:
    _timed(into, "start", _cli, "run", "-d", "--rm", "--name", name, "--network", "none",
           "--label", f"dgm.run={run_id}", image, "sleep", "60")  # fmt: skip
    _timed(into, "inspect", _cli, "inspect", "-f", "{{.State.Running}}", name)
    _timed(into, "list by label", _cli, "ps", "-aq", "--filter", f"label=dgm.run={run_id}")
    _timed(into, "remove (running)", _cli, "rm", "-f", name)


def _sdk_round(into: Times, image: str, name: str, run_id: str) -> None:
    api = engine.client()

    def start() -> None:
        host = api.create_host_config(auto_remove=True, network_mode="none")
        labels = {"dgm.run": run_id}
        api.create_container(image, ["sleep", "60"], name=name, labels=labels, host_config=host)
        api.start(name)

    _timed(into, "start", start)
    _timed(into, "inspect", api.inspect_container, name)
    _timed(into, "list by label", api.containers, all=True, filters={"label": f"dgm.run={run_id}"})
    _timed(into, "remove (running)", engine.remove_and_wait, [name])


def time_ops(image: str, rounds: int) -> None:
    """Median wall time of each life-cycle call, CLI against SDK, alternating per round."""
    run_id = f"bench-{uuid.uuid4().hex[:8]}"
    cli: Times = {}
    sdk: Times = {}
    try:
        for i in range(rounds):
            pair = [(cli, _cli_round), (sdk, _sdk_round)]
            for into, one_round in pair if i % 2 == 0 else pair[::-1]:
                one_round(into, image, f"dgm-bench-{uuid.uuid4().hex[:8]}", run_id)
    finally:
        remove_orphans(run_id)
    print(f"rounds: {rounds}  (median seconds per call; load: {os.getloadavg()[0]:.2f})")
    print(f"{'call':<18} {'docker CLI':>10} {'SDK':>8} {'SDK/CLI':>8}")
    for key in cli:
        c, d = statistics.median(cli[key]), statistics.median(sdk[key])
        print(f"{key:<18} {c:>10.4f} {d:>8.4f} {d / c:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="rounds of each (default 15)")
    parser.add_argument("--ops", action="store_true", help="time each life-cycle call")
    args = parser.parse_args()
    image = ensure_image()
    if args.ops:
        time_ops(image, args.rounds)
        return
    run_id = f"bench-{uuid.uuid4().hex[:8]}"
    sessions: list[float] = []
    background: list[float] = []
    bare: list[float] = []
    with tempfile.TemporaryDirectory(prefix="dgm-bench-") as tmp:
        src = make_workspace(Path(tmp))
        time_bare(image)  # warm-up: page cache, daemon
        try:
            for i in range(args.rounds):
                dest = Path(tmp) / f"out-{i}"
                # Alternate which goes first so drift in the machine's load hits both alike.
                if i % 2 == 0:
                    sessions.append(time_session(src, dest, run_id))
                    bare.append(time_bare(image))
                else:
                    bare.append(time_bare(image))
                    sessions.append(time_session(src, dest, run_id))
                background.append(time_session(src, Path(tmp) / f"bg-{i}", run_id, True))
                wait_for_removals()  # not timed: the caller would be doing other work
        finally:
            remove_orphans(run_id)
    session_median = statistics.median(sessions)
    bare_median = statistics.median(bare)
    ratio = session_median / bare_median
    verdict = "ok" if ratio <= TARGET_RATIO else "over target"
    print(f"rounds: {args.rounds}  image: {image}  files copied in: {FILES}")
    print(f"sandbox session median: {session_median:.3f} s  (min {min(sessions):.3f} s)")
    print(f"bare docker run median: {bare_median:.3f} s  (min {min(bare):.3f} s)")
    print(f"ratio: {ratio:.2f}  (target <= {TARGET_RATIO}: {verdict})")
    bg_median = statistics.median(background)
    bg_ratio = bg_median / bare_median
    verdict = "ok" if bg_ratio <= TARGET_RATIO else "over target"
    print(f"session with background removal median: {bg_median:.3f} s  ratio: {bg_ratio:.2f}"
          f"  (target <= {TARGET_RATIO}: {verdict})")  # fmt: skip


if __name__ == "__main__":
    main()
