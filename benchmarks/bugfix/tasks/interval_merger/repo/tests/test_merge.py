import unittest

from intervals import Interval, gaps, merge, total_length


class MergeTests(unittest.TestCase):
    def test_overlapping(self):
        self.assertEqual(merge([(1, 4), (2, 6), (8, 9)]), [Interval(1, 6), Interval(8, 9)])

    def test_unsorted_input(self):
        self.assertEqual(merge([(8, 9), (1, 2)]), [Interval(1, 2), Interval(8, 9)])

    def test_contained(self):
        self.assertEqual(merge([(1, 10), (3, 4)]), [Interval(1, 10)])

    def test_total_and_gaps(self):
        self.assertEqual(total_length([(0, 5), (3, 8), (10, 12)]), 10)
        self.assertEqual(gaps([(0, 5), (10, 12)]), [(5, 10)])

    def test_bad_interval(self):
        with self.assertRaises(ValueError):
            Interval(3, 1)


if __name__ == "__main__":
    unittest.main()
