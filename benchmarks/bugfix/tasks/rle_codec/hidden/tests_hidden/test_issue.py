import unittest

from rle import decode, encode


class LongRunTests(unittest.TestCase):
    def test_long_runs_round_trip(self):
        for text in ["a" * 10, "b" * 123 + "c", "xy" + "z" * 1000]:
            self.assertEqual(decode(encode(text)), text)

    def test_decode_multi_digit(self):
        self.assertEqual(decode("12a1b"), "a" * 12 + "b")


if __name__ == "__main__":
    unittest.main()
