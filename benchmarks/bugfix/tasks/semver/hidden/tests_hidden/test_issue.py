import unittest

from semver import compare, max_satisfying
from semver.compare import sort_key


class PrereleaseTests(unittest.TestCase):
    def test_release_beats_prerelease(self):
        self.assertEqual(compare("1.0.0-rc.1", "1.0.0"), -1)
        self.assertEqual(compare("1.0.0", "1.0.0-alpha"), 1)

    def test_spec_order(self):
        ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
                   "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"]
        self.assertEqual(sorted(reversed(ordered), key=sort_key), ordered)

    def test_max_with_prereleases(self):
        self.assertEqual(max_satisfying(["2.0.0-rc.2", "2.0.0"], "1.0.0", True), "2.0.0")


if __name__ == "__main__":
    unittest.main()
