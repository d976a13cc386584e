import unittest

from roman import from_roman, to_roman


class SubtractiveTests(unittest.TestCase):
    def test_examples(self):
        self.assertEqual(from_roman("IV"), 4)
        self.assertEqual(from_roman("XIV"), 14)
        self.assertEqual(from_roman("MCMXCIV"), 1994)

    def test_round_trip(self):
        for n in range(1, 4000):
            self.assertEqual(from_roman(to_roman(n)), n)


if __name__ == "__main__":
    unittest.main()
