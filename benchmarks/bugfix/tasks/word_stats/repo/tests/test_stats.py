import unittest

from logstats import distinct_report, top_words, unique_in_order


class StatsTests(unittest.TestCase):
    def test_unique(self):
        self.assertEqual(unique_in_order("abracadabra"), list("abrcd"))

    def test_report(self):
        lines = ["GET /a OK", "get /b ok", "POST /a FAIL"]
        self.assertEqual(distinct_report(lines), (6, ["get", "a", "ok", "b", "post", "fail"]))

    def test_top(self):
        self.assertEqual(top_words(["x y x", "x"], 1), [("x", 3)])


if __name__ == "__main__":
    unittest.main()
