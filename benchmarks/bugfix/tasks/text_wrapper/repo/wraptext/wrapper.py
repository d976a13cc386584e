"""Greedy line filling: never a line longer than `width`."""

from wraptext.words import split_long, words


def wrap(text, width=70):
    if width < 1:
        raise ValueError("width must be at least 1")
    lines, current = [], ""
    for word in words(text):
        for piece in split_long(word, width):
            if not current:
                current = piece
            elif len(current) + len(piece) <= width:
                current += " " + piece
            else:
                lines.append(current)
                current = piece
    if current:
        lines.append(current)
    return lines


def fill(text, width=70):
    return "\n".join(wrap(text, width))
