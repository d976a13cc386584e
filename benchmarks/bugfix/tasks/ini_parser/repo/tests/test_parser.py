import unittest

from iniparse import Config, ParseError, parse


class ParserTests(unittest.TestCase):
    def test_sections_and_keys(self):
        data = parse("[server]\nhost = example.org\nport=8080\n")
        self.assertEqual(data["server"], {"host": "example.org", "port": "8080"})

    def test_comments_and_blank_lines(self):
        data = parse("; top\n\n[a]\n# note\nx = 1\n")
        self.assertEqual(data["a"], {"x": "1"})

    def test_missing_equals_is_an_error(self):
        with self.assertRaises(ParseError):
            parse("[a]\njust words\n")

    def test_default_fallback(self):
        cfg = Config.from_text("timeout = 5\n[db]\nname = main\n")
        self.assertEqual(cfg.getint("db", "timeout"), 5)
        self.assertEqual(cfg.sections(), ["db"])

    def test_bool(self):
        cfg = Config.from_text("[f]\ndebug = yes\n")
        self.assertTrue(cfg.getbool("f", "debug"))


if __name__ == "__main__":
    unittest.main()
