"""Views of a run: listings, status, comparisons, plots and the local web viewer."""

from dgm.views.api import RunData, log_payload, node_payload, safe_path, tree_payload
from dgm.views.compare import Comparison, compare_nodes, render_comparison
from dgm.views.data import (
    MIN_TRIALS,
    Curve,
    NodeRow,
    Snapshot,
    ViewError,
    progress_curve,
    scores_by_depth,
)
from dgm.views.layout import tree_layout
from dgm.views.plot import plot_all
from dgm.views.runs import RunSummary, runs_table, status_view, summarise_run
from dgm.views.server import ViewerServer

__all__ = [
    "MIN_TRIALS",
    "Comparison",
    "Curve",
    "NodeRow",
    "RunData",
    "RunSummary",
    "Snapshot",
    "ViewError",
    "ViewerServer",
    "compare_nodes",
    "log_payload",
    "node_payload",
    "plot_all",
    "progress_curve",
    "render_comparison",
    "runs_table",
    "safe_path",
    "scores_by_depth",
    "status_view",
    "summarise_run",
    "tree_layout",
    "tree_payload",
]
