import unittest

from jpath import PathError, get, parse_path

DATA = {"store": {"books": [{"title": "A"}, {"title": "B"}], "open": True}}


class PathTests(unittest.TestCase):
    def test_parse(self):
        self.assertEqual(parse_path("store.books[1].title"), ["store", "books", 1, "title"])

    def test_get(self):
        self.assertEqual(get(DATA, "store.books[0].title"), "A")
        self.assertTrue(get(DATA, "store.open"))

    def test_missing(self):
        self.assertIsNone(get(DATA, "store.music", None))
        with self.assertRaises(PathError):
            get(DATA, "store.books[5]")

    def test_bad_path(self):
        with self.assertRaises(ValueError):
            parse_path("store..x")


if __name__ == "__main__":
    unittest.main()
