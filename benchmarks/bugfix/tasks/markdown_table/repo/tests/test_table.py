import unittest

from mdtable import render


class TableTests(unittest.TestCase):
    def test_basic(self):
        self.assertEqual(render(["a", "bb"], [[1, 2]]),
                         "| a   | bb  |\n| --- | --- |\n| 1   | 2   |\n")

    def test_alignment(self):
        out = render(["n"], [[10]], align=["right"])
        self.assertIn("--:", out)
        self.assertIn("|  10 |", out)

    def test_none_is_empty(self):
        self.assertIn("|     |", render(["x"], [[None]]))

    def test_row_length_checked(self):
        with self.assertRaises(ValueError):
            render(["a"], [[1, 2]])


if __name__ == "__main__":
    unittest.main()
