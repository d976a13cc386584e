"""The policy simulator: policies on synthetic self-improvement landscapes."""

from dgm.simulator.landscape import FAMILIES, Landscape, SimulateError
from dgm.simulator.report import summarise
from dgm.simulator.run import N_CHECKPOINTS, RunOutcome, SimConfig, run_all, run_one

__all__ = [
    "FAMILIES",
    "Landscape",
    "N_CHECKPOINTS",
    "RunOutcome",
    "SimConfig",
    "SimulateError",
    "run_all",
    "run_one",
    "summarise",
]
