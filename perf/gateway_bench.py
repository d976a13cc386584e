"""Gateway overhead per call with `sim`: host -> socket -> gateway -> litellm -> sim -> back,
against a direct in-process `litellm.completion` to sim, alternating call by call.

    .venv/bin/python perf/gateway_bench.py [--calls 300] [--runs 3]

Prints the median milliseconds of each path and the added median per run. Target: <= 5 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402

from dgm.fm import Gateway, MemoryLedger, SessionTags  # noqa: E402
from dgm.fm.client import FMClient  # noqa: E402
from dgm.fm.sim import provider  # noqa: E402

MESSAGES = [
    {"role": "system", "content": "You are a coding agent. " * 40},
    {"role": "user", "content": "Diagnose the agent's weakness and propose one change."},
]


def direct_call(meta: dict) -> None:
    litellm.completion(
        model=provider.SIM_LITELLM_MODEL,
        messages=MESSAGES,
        metadata={provider.SIM_METADATA_KEY: meta},
        num_retries=0,
    )


def one_run(calls: int) -> tuple[float, float]:
    gw = Gateway("sim", ledger=MemoryLedger(), seed=0)
    tags = SessionTags(run="bench", node=0, task="bench", role="diagnose", attempt=0)
    meta = {"role": "diagnose", "context": {}, "seed": 0, "node": 0, "task": "bench",
            "attempt": 0, "call_index": 0, "fault_rate": 0.45}  # fmt: skip
    direct, gateway = [], []
    try:
        with gw.session(tags, sim_context={}) as s:
            client = FMClient(str(s.socket_path))
            for _ in range(20):  # warm up both paths
                direct_call(meta)
                client.chat(MESSAGES)
            for _ in range(calls):
                t0 = time.perf_counter()
                direct_call(meta)
                t1 = time.perf_counter()
                client.chat(MESSAGES)
                t2 = time.perf_counter()
                direct.append(t1 - t0)
                gateway.append(t2 - t1)
            client.close()
    finally:
        gw.close()
    return statistics.median(direct) * 1e3, statistics.median(gateway) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    added = []
    for run in range(args.runs):
        direct_ms, gateway_ms = one_run(args.calls)
        added.append(gateway_ms - direct_ms)
        print(
            f"run {run + 1}: direct litellm->sim median {direct_ms:.2f} ms, "
            f"through the gateway {gateway_ms:.2f} ms, added {gateway_ms - direct_ms:.2f} ms"
        )
    print(f"added median ms per call over {args.runs} runs: {statistics.median(added):.2f} "
          "(target <= 5)")  # fmt: skip


if __name__ == "__main__":
    main()
