import unittest

from rle import decode, encode


class RleTests(unittest.TestCase):
    def test_encode(self):
        self.assertEqual(encode("aaabcc"), "3a1b2c")
        self.assertEqual(encode(""), "")

    def test_decode(self):
        self.assertEqual(decode("3a1b2c"), "aaabcc")

    def test_errors(self):
        with self.assertRaises(ValueError):
            encode("a1")
        with self.assertRaises(ValueError):
            decode("a")


if __name__ == "__main__":
    unittest.main()
