"""The run's live view reads the policy's TreeState: its counts must match the tree."""

from __future__ import annotations

import io

from rich.console import Console

from dgm.policies import TreeState
from dgm.run.config import RunConfig
from dgm.views.live import LiveView


class Ledger:
    """The archive's read side the view uses (FM totals, tamper totals, waiting nodes)."""

    def __init__(self, tampered=(0, 0), waiting=()):
        self.tampered, self._waiting = tampered, list(waiting)

    def fm_totals(self):
        return 3, 1200, 0.0123

    def tamper_totals(self):
        return self.tampered

    def waiting(self):
        return self._waiting


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


def test_live_view_counts_quarantined_nodes_tampering_and_what_waits():
    tree = TreeState(["a", "b"])
    tree.add_node(0, status="valid")
    tree.add_node(0, status="valid")
    tree.add_result(1, "a", True)
    tree.add_result(1, "b", True)
    tree.add_result(2, "a", False)
    tree.set_quarantine(1, "waiting")  # node 1 scores best but is held: never "best"
    console = Console(file=io.StringIO(), width=120)
    view = LiveView(console, "r1", RunConfig(), Ledger((1, 3), [1]), tree, gateway=None)
    console.print(view.render())
    text = console.file.getvalue()
    assert "3 (0 invalid, 1 quarantined)" in text
    assert "1 (tamper rate 0.33)" in text and "nodes 1 (`dgm approve`" in text
    assert "node 2: 0/1" in text and "node 1: 2/2" not in text
