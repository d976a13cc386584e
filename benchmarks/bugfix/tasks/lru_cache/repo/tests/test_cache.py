import unittest

from lrucache import LRUCache


class CacheTests(unittest.TestCase):
    def test_put_and_get(self):
        cache = LRUCache(2)
        cache.put("a", 1)
        self.assertEqual(cache.get("a"), 1)
        self.assertIsNone(cache.get("zzz"))
        self.assertEqual((cache.hits, cache.misses), (1, 1))

    def test_evicts_oldest_insert(self):
        cache = LRUCache(2)
        for key in "abc":
            cache.put(key, key.upper())
        self.assertNotIn("a", cache)
        self.assertEqual(len(cache), 2)

    def test_overwrite_refreshes(self):
        cache = LRUCache(2)
        cache.put("a", 1)
        cache.put("b", 2)
        cache.put("a", 3)
        cache.put("c", 4)
        self.assertEqual(cache.keys(), ["a", "c"])


if __name__ == "__main__":
    unittest.main()
