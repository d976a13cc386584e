"""An adjacency-map graph with non-negative edge weights."""


class Graph:
    def __init__(self):
        self.edges = {}

    def add_edge(self, a, b, weight=1, both_ways=False):
        if weight < 0:
            raise ValueError("weights must be non-negative")
        self.edges.setdefault(a, {})[b] = weight
        self.edges.setdefault(b, {})
        if both_ways:
            self.edges[b][a] = weight

    def neighbours(self, node):
        return self.edges.get(node, {}).items()

    def __contains__(self, node):
        return node in self.edges
