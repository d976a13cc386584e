import unittest

from matrix import add, identity, multiply, shape, transpose


class MatrixTests(unittest.TestCase):
    def test_square(self):
        m = [[1, 2], [3, 4]]
        self.assertEqual(transpose(m), [[1, 3], [2, 4]])
        self.assertEqual(multiply(m, identity(2)), m)

    def test_add(self):
        self.assertEqual(add([[1]], [[2]]), [[3]])
        with self.assertRaises(ValueError):
            add([[1]], [[1, 2]])

    def test_shape(self):
        self.assertEqual(shape([[1, 2, 3]]), (1, 3))
        with self.assertRaises(ValueError):
            shape([[1], [2, 3]])


if __name__ == "__main__":
    unittest.main()
