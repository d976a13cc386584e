"""Lay a lineage tree out in the plane without graphviz: leaves side by side in depth-first
order, each parent centred over its children, depth downwards. Iterative, so deep trees of
10,000 nodes lay out in milliseconds. Not networkx's `dfs_postorder_nodes`: with the graph
it needs, that walk takes about 4 times as long on 10,000 nodes (98 ms against 25 ms in
`perf/views_bench.py`), a seventh of the viewer's cold tree endpoint."""

from __future__ import annotations

from dgm.views.data import Snapshot


def tree_layout(snap: Snapshot) -> dict[int, tuple[float, int]]:
    """x (in leaf slots, from 0) and y (the depth) of every node reachable from a root."""
    pos: dict[int, tuple[float, int]] = {}
    next_leaf = 0.0
    roots = [r.id for r in snap.nodes.values() if r.parent is None or r.parent not in snap.nodes]
    for root in roots:
        # Post-order walk: a node is placed once all its children are.
        stack: list[tuple[int, bool]] = [(root, False)]
        while stack:
            node_id, expanded = stack.pop()
            row = snap.nodes[node_id]
            if not row.children:
                pos[node_id] = (next_leaf, row.depth)
                next_leaf += 1.0
            elif expanded:
                first, last = pos[row.children[0]][0], pos[row.children[-1]][0]
                pos[node_id] = ((first + last) / 2.0, row.depth)
            else:
                stack.append((node_id, True))
                stack.extend((c, False) for c in reversed(row.children))
        next_leaf += 1.0  # a gap between separate trees
    return pos
