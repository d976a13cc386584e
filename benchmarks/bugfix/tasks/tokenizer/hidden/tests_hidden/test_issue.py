import unittest

from lexer import LexError, tokenize


class EscapeTests(unittest.TestCase):
    def test_escaped_quote(self):
        tokens = tokenize('say("a \\"quoted\\" word")')
        strings = [t.value for t in tokens if t.kind == "STRING"]
        self.assertEqual(strings, ['a "quoted" word'])
        self.assertEqual(tokens[-1].value, ")")

    def test_escape_sequences(self):
        [token] = tokenize('"tab\\there\\nline \\\\ end"')
        self.assertEqual(token.value, "tab\there\nline \\ end")

    def test_trailing_backslash_is_unterminated(self):
        with self.assertRaises(LexError):
            tokenize('"abc\\')


if __name__ == "__main__":
    unittest.main()
