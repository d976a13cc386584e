"""Is a string a well-formed Roman numeral?"""

import re

_FORM = re.compile(r"M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})")


def is_roman(text):
    return bool(text) and _FORM.fullmatch(text.upper()) is not None


def check(text):
    """The upper-cased numeral, or ValueError when it is malformed."""
    if not isinstance(text, str) or not is_roman(text.strip()):
        raise ValueError(f"not a Roman numeral: {text!r}")
    return text.strip().upper()
