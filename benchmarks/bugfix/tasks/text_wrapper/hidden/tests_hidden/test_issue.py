import unittest

from wraptext import wrap

TEXT = "the quick brown fox jumps over the lazy dog and keeps on running far away"


class WidthTests(unittest.TestCase):
    def test_no_line_exceeds_width(self):
        for width in range(3, 30):
            for line in wrap(TEXT, width):
                self.assertLessEqual(len(line), width, (width, line))

    def test_exact_fit(self):
        self.assertEqual(wrap("aaa bbb ccc", 7), ["aaa bbb", "ccc"])
        self.assertEqual(wrap("ab cd", 4), ["ab", "cd"])

    def test_words_kept_in_order(self):
        self.assertEqual(" ".join(wrap(TEXT, 11)), TEXT)


if __name__ == "__main__":
    unittest.main()
