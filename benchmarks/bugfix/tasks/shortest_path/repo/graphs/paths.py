"""Shortest path between two nodes."""

from graphs.dijkstra import distances


class NoPath(LookupError):
    pass


def shortest_path(graph, start, goal):
    """(cost, [start, ..., goal]); NoPath when goal cannot be reached."""
    if start not in graph or goal not in graph:
        raise NoPath(f"unknown node {start if start not in graph else goal!r}")
    dist, previous = distances(graph, start)
    if goal not in dist:
        raise NoPath(f"{goal!r} is unreachable from {start!r}")
    path, node = [], goal
    while node is not None:
        path.append(node)
        node = previous[node]
    return dist[goal], path[::-1]
