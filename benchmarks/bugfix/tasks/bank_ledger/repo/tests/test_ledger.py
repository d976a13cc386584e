import unittest

from ledger import Account, InsufficientFunds


class AccountTests(unittest.TestCase):
    def test_deposit_withdraw(self):
        acc = Account("ann")
        acc.deposit(500)
        acc.withdraw(200)
        self.assertEqual(acc.balance, 300)

    def test_overdraw(self):
        acc = Account("bob", [("deposit", 100)])
        with self.assertRaises(InsufficientFunds):
            acc.withdraw(101)

    def test_bad_amounts(self):
        with self.assertRaises(ValueError):
            Account("x", [("deposit", 1)]).deposit(0)


if __name__ == "__main__":
    unittest.main()
