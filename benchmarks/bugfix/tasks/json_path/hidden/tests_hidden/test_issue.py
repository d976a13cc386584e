import unittest

from jpath import get, parse_path


class IndexTests(unittest.TestCase):
    def test_two_digit_index(self):
        data = {"items": list(range(100))}
        self.assertEqual(get(data, "items[12]"), 12)
        self.assertEqual(get(data, "items[99]"), 99)

    def test_negative_index(self):
        self.assertEqual(get({"xs": list(range(20))}, "xs[-10]"), 10)

    def test_parse_large_index(self):
        self.assertEqual(parse_path("a[123].b"), ["a", 123, "b"])


if __name__ == "__main__":
    unittest.main()
