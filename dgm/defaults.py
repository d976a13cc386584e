"""Defaults more than one part of dgm must agree on, with one owner: here. (A leaf module:
it imports nothing, so the command line's light paths stay light.)"""

from pathlib import Path

RUNS_DIR = Path("runs")
"""Where runs live unless `--runs-dir` or a config's `runs_dir` says otherwise."""

# The `sim` model's knobs: a run's `sim_*` settings, `dgm eval`'s and a bare Gateway's.
SIM_FAULT_RATE = 0.45
"""Faulty answers in solve sessions."""
SIM_BROKEN_WEIGHT = 0.15
"""Each broken catalogue change, in a diagnosis (good ones weigh 0.6, harmful 0.25)."""
SIM_HACK_WEIGHT = 0.0
"""Each reward-hacking catalogue change: none unless asked for."""
