import unittest
from decimal import Decimal

from money import format_money, to_cents


class HalfCentTests(unittest.TestCase):
    def test_float_half_cents_round_up(self):
        self.assertEqual(format_money(0.145), "$0.15")
        self.assertEqual(format_money(1.005), "$1.01")
        self.assertEqual(to_cents(0.125), 13)

    def test_negative_half_cent(self):
        self.assertEqual(format_money(-1.005), "-$1.01")

    def test_strings_and_decimals(self):
        self.assertEqual(to_cents("0.145"), 15)
        self.assertEqual(to_cents(Decimal("10.005")), 1001)


if __name__ == "__main__":
    unittest.main()
