"""Open accounts and move money between them."""

from ledger.account import Account


class Bank:
    def __init__(self):
        self.accounts = {}

    def open(self, owner, opening=0):
        account = Account(owner)
        if opening:
            account.deposit(opening)
        self.accounts[owner] = account
        return account

    def transfer(self, source, target, cents):
        self.accounts[source].withdraw(cents)
        self.accounts[target].deposit(cents)

    def total(self):
        return sum(a.balance for a in self.accounts.values())
