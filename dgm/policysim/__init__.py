"""The policy simulator: policies on synthetic self-improvement landscapes."""

from dgm.policysim.landscape import FAMILIES, Landscape, SimulateError
from dgm.policysim.report import summarise
from dgm.policysim.run import N_CHECKPOINTS, RunOutcome, SimConfig, run_all, run_one

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
