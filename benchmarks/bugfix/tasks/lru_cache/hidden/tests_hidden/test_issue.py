import unittest

from lrucache import LRUCache


class RecencyTests(unittest.TestCase):
    def test_read_protects_from_eviction(self):
        cache = LRUCache(2)
        cache.put("a", 1)
        cache.put("b", 2)
        self.assertEqual(cache.get("a"), 1)
        cache.put("c", 3)
        self.assertIn("a", cache)
        self.assertNotIn("b", cache)

    def test_order_follows_reads(self):
        cache = LRUCache(3)
        for i, key in enumerate("xyz"):
            cache.put(key, i)
        cache.get("x")
        cache.get("y")
        self.assertEqual(cache.keys(), ["z", "x", "y"])

    def test_miss_changes_nothing(self):
        cache = LRUCache(2)
        cache.put("a", 1)
        cache.put("b", 2)
        cache.get("nope")
        self.assertEqual(cache.keys(), ["a", "b"])


if __name__ == "__main__":
    unittest.main()
