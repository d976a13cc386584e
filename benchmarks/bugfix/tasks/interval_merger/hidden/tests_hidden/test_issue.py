import unittest

from intervals import Interval, gaps, merge


class TouchingTests(unittest.TestCase):
    def test_touching_intervals_merge(self):
        self.assertEqual(merge([(1, 3), (3, 5)]), [Interval(1, 5)])

    def test_no_zero_width_gaps(self):
        self.assertEqual(gaps([(9, 10), (10, 11), (13, 14)]), [(11, 13)])

    def test_chain_of_touching(self):
        self.assertEqual(merge([(5, 6), (1, 2), (2, 3), (3, 5)]), [Interval(1, 6)])

    def test_disjoint_stay_apart(self):
        self.assertEqual(merge([(1, 2), (4, 5)]), [Interval(1, 2), Interval(4, 5)])


if __name__ == "__main__":
    unittest.main()
