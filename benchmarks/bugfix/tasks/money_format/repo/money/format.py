"""Human-readable money strings."""

from money.amount import to_cents

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def format_money(amount, currency="USD"):
    """'$1,234.50' style text; negative amounts get a leading minus sign."""
    cents = to_cents(amount)
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    symbol = SYMBOLS.get(currency, currency + " ")
    return f"{sign}{symbol}{whole:,}.{rest:02d}"
