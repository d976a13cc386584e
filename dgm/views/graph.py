"""A run's lineage as a networkx graph, and `dgm export --graph`: GraphML or JSON node-link
files that Gephi, Cytoscape or networkx read.

Every node carries its status, own and clade scores, evaluations, tamper counts, quarantine,
creation time, parent, commit and diff stat; every edge goes parent -> child. GraphML allows
plain typed values only (str, int, float, bool), so a value that does not exist (the root's
parent, the score of a node never evaluated, no quarantine) is left out of that node rather
than written as None.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import networkx as nx

from archive.models import Stats
from dgm.views.data import Snapshot, ViewError

FORMATS = {".graphml": "GraphML", ".json": "JSON node-link"}


def graph_format(path: Path) -> str:
    """The format a file's suffix names; anything else is a one-line ViewError."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ViewError(f"--graph needs a file ending in .graphml or .json, not '{path.name}'")
    return fmt


def _rate(s: Stats) -> float | None:
    return s.successes / s.trials if s.trials else None


def node_attributes(node: Any, own: Stats, clade: Stats, diffstat: tuple | None) -> dict:
    """One node's attributes, typed for GraphML (see the module docstring)."""
    files, added, removed = diffstat if diffstat else (None, None, None)
    attrs: dict[str, Any] = {
        "status": node.status,
        "parent": node.parent,
        "commit": node.commit,
        "created": datetime.fromtimestamp(node.created, UTC).isoformat(),
        "created_unix": float(node.created),
        "entry": node.entry,
        "own_successes": own.successes,
        "own_trials": own.trials,
        "own_score": _rate(own),
        "clade_successes": clade.successes,
        "clade_trials": clade.trials,
        "clade_score": _rate(clade),
        "evaluations": own.trials,
        "tampered": own.tampered,
        "clade_tampered": clade.tampered,
        "bad_below": clade.bad_nodes - own.bad_nodes,  # invalid or held descendants
        "quarantine": node.quarantine,
        "files_changed": files,
        "lines_added": added,
        "lines_removed": removed,
    }
    # numpy or SQLite values could slip through: GraphML wants Python's own types.
    plain = {k: v.item() if hasattr(v, "item") else v for k, v in attrs.items()}
    return {k: v for k, v in plain.items() if v is not None}


def lineage_graph(archive: Any, run_name: str) -> nx.DiGraph:
    """The run's lineage: a node per agent (its id), an edge parent -> child; the graph
    names the run and its final agent (the node the run's summary names)."""
    final = Snapshot.results_only(archive).final_agent()
    stats, diffstats = archive.all_stats(), archive.diffstats()
    graph = nx.DiGraph(run=run_name, final_agent=-1 if final is None else final)
    empty = (Stats(), Stats())
    for node in archive.nodes():
        own, clade = stats.get(node.id, empty)
        graph.add_node(node.id, **node_attributes(node, own, clade, diffstats.get(node.id)),
                       is_final_agent=node.id == final)  # fmt: skip
        if node.parent is not None:
            graph.add_edge(node.parent, node.id)
    return graph


def write_graph(graph: nx.DiGraph, path: Path) -> str:
    """Write `graph` in the format the suffix of `path` names; returns that format."""
    fmt = graph_format(path)
    if fmt == "GraphML":
        nx.write_graphml(graph, path)
    else:
        data = nx.node_link_data(graph, edges="edges")
        path.write_text(json.dumps(data, indent=1) + "\n")
    return fmt


def read_graph(path: Path) -> nx.DiGraph:
    """A graph `write_graph` wrote, with integer node ids again."""
    if graph_format(path) == "GraphML":
        return nx.read_graphml(path, node_type=int)
    return nx.node_link_graph(json.loads(path.read_text()), edges="edges")
