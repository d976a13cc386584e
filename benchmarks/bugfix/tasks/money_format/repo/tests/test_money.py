import unittest

from money import format_money, split_evenly, to_cents


class MoneyTests(unittest.TestCase):
    def test_format(self):
        self.assertEqual(format_money(1234.5), "$1,234.50")
        self.assertEqual(format_money(-3, "EUR"), "-€3.00")
        self.assertEqual(format_money(7, "CHF"), "CHF 7.00")

    def test_cents(self):
        self.assertEqual(to_cents("19.99"), 1999)
        self.assertEqual(to_cents(5), 500)

    def test_split(self):
        self.assertEqual(split_evenly(10, 3), [334, 333, 333])
        self.assertEqual(sum(split_evenly(99.99, 7)), 9999)


if __name__ == "__main__":
    unittest.main()
