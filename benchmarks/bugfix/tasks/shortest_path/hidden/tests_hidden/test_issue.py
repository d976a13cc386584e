import unittest

from graphs import Graph, distances, shortest_path


class DetourTests(unittest.TestCase):
    def test_cheaper_detour_wins(self):
        g = Graph()
        g.add_edge("home", "office", 10)
        g.add_edge("home", "bakery", 1)
        g.add_edge("bakery", "office", 2)
        self.assertEqual(shortest_path(g, "home", "office"), (3, ["home", "bakery", "office"]))

    def test_distances_on_grid(self):
        g = Graph()
        for a, b, w in [("s", "a", 4), ("s", "b", 1), ("b", "a", 2), ("a", "t", 1), ("b", "t", 5)]:
            g.add_edge(a, b, w, both_ways=True)
        dist, _ = distances(g, "s")
        self.assertEqual(dist, {"s": 0, "a": 3, "b": 1, "t": 4})


if __name__ == "__main__":
    unittest.main()
