"""A tiny double-entry-ish bank ledger."""

from ledger.account import Account, InsufficientFunds
from ledger.bank import Bank

__all__ = ["Account", "Bank", "InsufficientFunds"]
