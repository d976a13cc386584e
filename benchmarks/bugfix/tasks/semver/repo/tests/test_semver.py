import unittest

from semver import Version, compare, max_satisfying, parse


class SemverTests(unittest.TestCase):
    def test_parse(self):
        self.assertEqual(parse("v1.2.3+build.5"), Version(1, 2, 3, (), "build.5"))
        self.assertEqual(str(parse("1.0.0-rc.1")), "1.0.0-rc.1")
        with self.assertRaises(ValueError):
            parse("1.2")

    def test_numeric_order(self):
        self.assertEqual(compare("1.10.0", "1.9.0"), 1)
        self.assertEqual(compare("2.0.0+a", "2.0.0+b"), 0)

    def test_max_satisfying(self):
        self.assertEqual(max_satisfying(["1.0.0", "1.4.2", "0.9.0"], "1.0.0"), "1.4.2")
        self.assertIsNone(max_satisfying(["0.1.0"], "1.0.0"))


if __name__ == "__main__":
    unittest.main()
