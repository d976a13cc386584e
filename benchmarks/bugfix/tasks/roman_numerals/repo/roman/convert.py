"""Integers to Roman numerals and back."""

from roman.validate import check

PAIRS = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
         (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]
VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def to_roman(number):
    if not 0 < number < 4000:
        raise ValueError("only 1..3999 can be written")
    out = []
    for value, letters in PAIRS:
        count, number = divmod(number, value)
        out.append(letters * count)
    return "".join(out)


def from_roman(text):
    text = check(text)
    total = 0
    for i, letter in enumerate(text):
        value = VALUES[letter]
        if i > 0 and VALUES[text[i - 1]] < value:
            total -= value
        else:
            total += value
    return total
