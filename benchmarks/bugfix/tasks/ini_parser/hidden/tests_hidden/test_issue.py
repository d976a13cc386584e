import unittest

from iniparse import Config, parse


class EqualsInValueTests(unittest.TestCase):
    def test_url_with_query_string(self):
        data = parse("[api]\nurl = https://x.test/q?a=1&b=2\n")
        self.assertEqual(data["api"]["url"], "https://x.test/q?a=1&b=2")

    def test_value_ending_in_equals(self):
        cfg = Config.from_text("[k]\ntoken = abc==\n")
        self.assertEqual(cfg.get("k", "token"), "abc==")

    def test_plain_values_still_work(self):
        self.assertEqual(parse("[a]\nx=1\n")["a"], {"x": "1"})


if __name__ == "__main__":
    unittest.main()
