import unittest

from calc import CalcError, evaluate


class CalcTests(unittest.TestCase):
    def test_precedence(self):
        self.assertEqual(evaluate("2 + 3 * 4"), 14)
        self.assertEqual(evaluate("(2 + 3) * 4"), 20)
        self.assertEqual(evaluate("8 / 2 - 1"), 3)

    def test_errors(self):
        for bad in ["1 +", "(1", "1 / 0", "2 $ 3"]:
            with self.assertRaises(CalcError):
                evaluate(bad)


if __name__ == "__main__":
    unittest.main()
