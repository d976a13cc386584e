"""The run's live view reads the policy's TreeState: its counts must match the tree."""

from __future__ import annotations

import io

from rich.console import Console

from dgm.config import RunConfig
from dgm.live import LiveView
from dgm.policies import TreeState


class Ledger:
    def fm_totals(self):
        return 3, 1200, 0.0123


def test_live_view_counts_invalid_children_and_the_best_node():
    tree = TreeState(["a", "b"])
    tree.add_node(0, status="valid")
    tree.add_node(0, status="invalid")
    tree.add_node(1, status="invalid")
    tree.add_result(0, "a", False)
    tree.add_result(1, "a", True)
    tree.add_result(1, "b", True)
    console = Console(file=io.StringIO(), width=100)
    view = LiveView(console, "r1", RunConfig(), Ledger(), tree, gateway=None)
    console.print(view.render())
    text = console.file.getvalue()
    assert "4 (2 invalid)" in text
    assert "node 1: 2/2" in text and "$0.0123" in text
