"""Single-source shortest distances (Dijkstra with a binary heap)."""

import heapq
import itertools


def distances(graph, source):
    """(dist, previous): best known distance to each reachable node and the node
    before it on a shortest path."""
    dist, previous, done = {source: 0}, {source: None}, set()
    tie = itertools.count()
    heap = [(0, next(tie), source)]
    while heap:
        d, _, node = heapq.heappop(heap)
        if node in done:
            continue
        done.add(node)
        for nxt, weight in graph.neighbours(node):
            candidate = d + weight
            if nxt not in done and candidate < dist.get(nxt, float("inf")):
                dist[nxt] = candidate
                previous[nxt] = node
                heapq.heappush(heap, (candidate, next(tie), nxt))
    return dist, previous
