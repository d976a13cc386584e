import unittest

from calc import CalcError, evaluate


class SignedDecimalTests(unittest.TestCase):
    def test_decimals(self):
        self.assertAlmostEqual(evaluate("2.5 * 4"), 10.0)
        self.assertAlmostEqual(evaluate(".5 + 1.25"), 1.75)

    def test_unary_minus(self):
        self.assertEqual(evaluate("-3 + 5"), 2)
        self.assertEqual(evaluate("4 * -2"), -8)
        self.assertEqual(evaluate("-(1 + 2)"), -3)
        self.assertEqual(evaluate("--2"), 2)
        self.assertEqual(evaluate("+7"), 7)

    def test_combined(self):
        self.assertAlmostEqual(evaluate("-2.5 * 4"), -10.0)

    def test_still_rejects_garbage(self):
        with self.assertRaises(CalcError):
            evaluate("1..2")


if __name__ == "__main__":
    unittest.main()
