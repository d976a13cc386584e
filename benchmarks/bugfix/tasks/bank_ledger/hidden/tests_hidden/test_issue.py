import unittest

from ledger import Account, Bank


class IsolationTests(unittest.TestCase):
    def test_accounts_do_not_share_history(self):
        bank = Bank()
        bank.open("ann", 1000)
        bob = bank.open("bob")
        self.assertEqual(bob.balance, 0)
        self.assertEqual(bank.total(), 1000)

    def test_transfer(self):
        bank = Bank()
        bank.open("ann", 500)
        bank.open("bob", 100)
        bank.transfer("ann", "bob", 200)
        self.assertEqual([bank.accounts[n].balance for n in ("ann", "bob")], [300, 300])

    def test_given_history_is_copied(self):
        history = [("deposit", 5)]
        acc = Account("cy", history)
        acc.deposit(1)
        self.assertEqual(history, [("deposit", 5)])


if __name__ == "__main__":
    unittest.main()
