import unittest

from lexer import LexError, tokenize


def kinds(text):
    return [(t.kind, t.value) for t in tokenize(text)]


class LexerTests(unittest.TestCase):
    def test_arithmetic(self):
        self.assertEqual(kinds("a + 12*3.5"), [("NAME", "a"), ("OP", "+"), ("NUMBER", 12),
                                                ("OP", "*"), ("NUMBER", 3.5)])

    def test_comparison_operators(self):
        self.assertEqual([v for _, v in kinds("x<=y != z")], ["x", "<=", "y", "!=", "z"])

    def test_simple_string(self):
        self.assertEqual(kinds('name == "bob"'),
                         [("NAME", "name"), ("OP", "=="), ("STRING", "bob")])

    def test_errors(self):
        with self.assertRaises(LexError):
            tokenize("a $ b")
        with self.assertRaises(LexError):
            tokenize('"open')


if __name__ == "__main__":
    unittest.main()
