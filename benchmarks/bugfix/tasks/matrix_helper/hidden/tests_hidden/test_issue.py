import unittest

from matrix import multiply, transpose


class RectangularTests(unittest.TestCase):
    def test_transpose_wide(self):
        self.assertEqual(transpose([[1, 2, 3], [4, 5, 6]]), [[1, 4], [2, 5], [3, 6]])

    def test_transpose_tall(self):
        self.assertEqual(transpose([[1], [2], [3]]), [[1, 2, 3]])

    def test_multiply_rectangular(self):
        a = [[1, 2, 3], [4, 5, 6]]
        b = [[7, 8], [9, 10], [11, 12]]
        self.assertEqual(multiply(a, b), [[58, 64], [139, 154]])
        self.assertEqual(multiply([[1, 2]], [[3], [4]]), [[11]])


if __name__ == "__main__":
    unittest.main()
