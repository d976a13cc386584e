"""Convert user-entered amounts to integer cents."""

from decimal import ROUND_HALF_UP, Decimal


def to_cents(amount):
    """Integer cents for an int, float, Decimal or numeric string; half a cent
    rounds away from zero, as on a printed invoice."""
    value = Decimal(str(amount)) * 100
    return int(value.quantize(Decimal("1"), rounding=ROUND_HALF_UP))
