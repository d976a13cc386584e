"""The run's final agent: the one node the run summary, the live view, `dgm runs`,
`dgm status`, the viewer, the plots and `dgm export --graph` all name.

It is the policy's choice (`Policy.final_agent`: hgm's lower quantile, the posterior mean of
the others, the newest evaluated node for `latest`), never held in quarantine. Once a run
has finished, it is the node the run recorded when it stopped: the final evaluation that
follows adds results (to that node and the seed) that could tip a fresh choice elsewhere,
but the summary already named it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dgm.policies.tree import TreeState
from dgm.protocols import Policy


def final_agent(policy: Policy, tree: TreeState, finished: Mapping[str, Any] | None = None) -> int:
    """The final agent of a run whose tree is `tree`; `finished` is the state the run
    recorded when it finished (`archive.get_state("finished")`), None while it is not."""
    if finished and finished.get("final") is not None:
        return int(finished["final"])
    return int(policy.final_agent(tree))
