import unittest
from datetime import date

from dateranges import overlap_days, parse_date


class ParseTests(unittest.TestCase):
    def test_formats(self):
        self.assertEqual(parse_date("2024/02/29"), date(2024, 2, 29))
        self.assertEqual(parse_date(date(2020, 1, 1)), date(2020, 1, 1))

    def test_bad(self):
        with self.assertRaises(ValueError):
            parse_date("yesterday")


class OverlapTests(unittest.TestCase):
    def test_overlap(self):
        self.assertEqual(overlap_days(("2024-01-01", "2024-01-10"),
                                      ("2024-01-10", "2024-01-20")), 1)
        self.assertEqual(overlap_days(("2024-01-01", "2024-01-02"),
                                      ("2024-02-01", "2024-02-02")), 0)


if __name__ == "__main__":
    unittest.main()
