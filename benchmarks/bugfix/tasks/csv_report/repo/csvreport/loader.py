"""Read sales rows from a CSV file."""

import csv
from decimal import Decimal

REQUIRED = ("region", "product", "amount")


class ReportError(ValueError):
    """The input file does not look like a sales export."""


def load_rows(path):
    """Rows as dicts with `amount` as a Decimal. Header names are case-insensitive."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = [name.strip().lower() for name in reader.fieldnames or []]
        missing = [name for name in REQUIRED if name not in fields]
        if missing:
            raise ReportError(f"missing columns: {', '.join(missing)}")
        rows = []
        for raw in reader:
            row = {k.strip().lower(): (v or "").strip() for k, v in raw.items()}
            row["amount"] = Decimal(row["amount"] or "0")
            rows.append(row)
    return rows
