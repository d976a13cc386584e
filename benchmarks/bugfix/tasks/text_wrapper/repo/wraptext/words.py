"""Words and long-word splitting."""


def words(text):
    return text.split()


def split_long(word, width):
    """Cut a word longer than `width` into pieces of at most `width` characters."""
    return [word[i:i + width] for i in range(0, len(word), width)]
