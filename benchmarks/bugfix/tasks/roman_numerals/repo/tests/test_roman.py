import unittest

from roman import from_roman, is_roman, to_roman


class RomanTests(unittest.TestCase):
    def test_to_roman(self):
        self.assertEqual(to_roman(1994), "MCMXCIV")
        self.assertEqual(to_roman(3888), "MMMDCCCLXXXVIII")

    def test_from_roman_additive(self):
        self.assertEqual(from_roman("MDCLXVI"), 1666)
        self.assertEqual(from_roman("iii"), 3)

    def test_validation(self):
        self.assertFalse(is_roman("IIII"))
        with self.assertRaises(ValueError):
            from_roman("ABC")
        with self.assertRaises(ValueError):
            to_roman(0)


if __name__ == "__main__":
    unittest.main()
