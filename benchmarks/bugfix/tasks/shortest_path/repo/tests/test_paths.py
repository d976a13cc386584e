import unittest

from graphs import Graph, NoPath, shortest_path


class PathTests(unittest.TestCase):
    def test_line(self):
        g = Graph()
        g.add_edge("a", "b", 1)
        g.add_edge("b", "c", 2)
        self.assertEqual(shortest_path(g, "a", "c"), (3, ["a", "b", "c"]))

    def test_same_node(self):
        g = Graph()
        g.add_edge("a", "b")
        self.assertEqual(shortest_path(g, "a", "a"), (0, ["a"]))

    def test_unreachable(self):
        g = Graph()
        g.add_edge("a", "b")
        with self.assertRaises(NoPath):
            shortest_path(g, "b", "a")

    def test_negative_weight(self):
        with self.assertRaises(ValueError):
            Graph().add_edge("a", "b", -1)


if __name__ == "__main__":
    unittest.main()
