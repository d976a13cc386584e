"""Convert user-entered amounts to integer cents."""



def to_cents(amount):
    """Integer cents for an int, float, Decimal or numeric string; half a cent
    rounds away from zero, as on a printed invoice."""
    return int(round(float(amount) * 100))
