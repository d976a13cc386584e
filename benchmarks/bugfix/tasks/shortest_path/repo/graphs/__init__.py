"""Weighted directed graphs and shortest paths."""

from graphs.dijkstra import distances
from graphs.graph import Graph
from graphs.paths import NoPath, shortest_path

__all__ = ["Graph", "NoPath", "distances", "shortest_path"]
