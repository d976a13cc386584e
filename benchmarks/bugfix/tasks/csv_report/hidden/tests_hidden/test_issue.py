import os
import tempfile
import unittest
from decimal import Decimal

from csvreport import load_rows, totals_by


class ExcelExportTests(unittest.TestCase):
    def load(self, data):
        fd, path = tempfile.mkstemp(suffix=".csv")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        try:
            return load_rows(path)
        finally:
            os.remove(path)

    def test_utf8_with_bom(self):
        data = "\ufeffRegion,Product,Amount\r\nMünchen,Kaffee,4.20\r\n".encode("utf-8")
        rows = self.load(data)
        self.assertEqual(rows[0]["region"], "München")
        self.assertEqual(totals_by(rows, "region"), [("München", Decimal("4.20"))])

    def test_plain_utf8_still_works(self):
        rows = self.load("region,product,amount\nOslo,te,1\n".encode("utf-8"))
        self.assertEqual(rows[0]["amount"], Decimal("1"))


if __name__ == "__main__":
    unittest.main()
