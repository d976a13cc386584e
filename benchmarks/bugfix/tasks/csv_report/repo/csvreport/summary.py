"""Aggregate rows."""

from collections import defaultdict
from decimal import Decimal


def totals_by(rows, column):
    """Sum of `amount` per distinct value of `column`, largest first."""
    sums = defaultdict(Decimal)
    for row in rows:
        sums[row[column]] += row["amount"]
    return sorted(sums.items(), key=lambda item: (-item[1], item[0]))
