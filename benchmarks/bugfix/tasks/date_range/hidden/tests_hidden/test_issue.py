import unittest
from datetime import date

from dateranges import business_days, date_range


class InclusiveTests(unittest.TestCase):
    def test_week(self):
        days = date_range("2024-03-04", "2024-03-10")
        self.assertEqual(len(days), 7)
        self.assertEqual(days[-1], date(2024, 3, 10))

    def test_single_day(self):
        self.assertEqual(date_range("2024-01-01", "2024-01-01"), [date(2024, 1, 1)])

    def test_step(self):
        self.assertEqual(date_range("2024-01-01", "2024-01-05", step=2),
                         [date(2024, 1, 1), date(2024, 1, 3), date(2024, 1, 5)])

    def test_business_days_include_friday(self):
        self.assertEqual(len(business_days("2024-03-04", "2024-03-08")), 5)

    def test_empty_when_reversed(self):
        self.assertEqual(date_range("2024-01-05", "2024-01-01"), [])


if __name__ == "__main__":
    unittest.main()
