"""Accounts hold integer cents and keep a history of (kind, amount) entries."""


class InsufficientFunds(ValueError):
    pass


class Account:
    def __init__(self, owner, history=[]):
        self.owner = owner
        self.history = history

    @property
    def balance(self):
        return sum(amount for _, amount in self.history)

    def deposit(self, cents):
        if cents <= 0:
            raise ValueError("deposit must be positive")
        self.history.append(("deposit", cents))

    def withdraw(self, cents):
        if cents <= 0:
            raise ValueError("withdrawal must be positive")
        if cents > self.balance:
            raise InsufficientFunds(f"{self.owner}: balance {self.balance} < {cents}")
        self.history.append(("withdraw", -cents))
