"""dgm: an evolutionary archive system for self-modifying coding agents.

`dgm` wires the machine together; `archive` stores, `sandbox` isolates, `benchmarks` grades.
"""

import os

# litellm otherwise fetches its price map from the internet on import.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

__version__ = "0.1.0"
