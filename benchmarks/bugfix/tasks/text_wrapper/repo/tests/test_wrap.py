import unittest

from wraptext import fill, split_long, wrap


class WrapTests(unittest.TestCase):
    def test_short_text(self):
        self.assertEqual(wrap("hello world", 40), ["hello world"])

    def test_empty(self):
        self.assertEqual(wrap("   ", 10), [])

    def test_long_word(self):
        self.assertEqual(split_long("abcdefg", 3), ["abc", "def", "g"])

    def test_fill_joins(self):
        self.assertEqual(fill("a b", 1), "a\nb")

    def test_bad_width(self):
        with self.assertRaises(ValueError):
            wrap("x", 0)


if __name__ == "__main__":
    unittest.main()
