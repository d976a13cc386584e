import os
import tempfile
import unittest
from decimal import Decimal

from csvreport import load_rows, render_report, totals_by
from csvreport.loader import ReportError


def write(text):
    fd, path = tempfile.mkstemp(suffix=".csv")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    return path


class ReportTests(unittest.TestCase):
    def test_totals(self):
        path = write("Region,Product,Amount\nnorth,tea,2.50\nsouth,tea,1\nnorth,cake,3\n")
        rows = load_rows(path)
        os.remove(path)
        self.assertEqual(totals_by(rows, "region"),
                         [("north", Decimal("5.50")), ("south", Decimal("1"))])

    def test_missing_column(self):
        path = write("region,amount\nnorth,1\n")
        with self.assertRaises(ReportError):
            load_rows(path)
        os.remove(path)

    def test_render(self):
        text = render_report("Sales", [("north", Decimal("5.5"))])
        self.assertIn("north", text)
        self.assertTrue(text.rstrip().endswith("5.50"))


if __name__ == "__main__":
    unittest.main()
