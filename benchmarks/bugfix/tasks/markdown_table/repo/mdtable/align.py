"""Column alignment markers and padding."""

MARKERS = {"left": ":{}", "right": "{}:", "center": ":{}:"}


def separator(width, align):
    dashes = "-" * max(3, width - (2 if align == "center" else 1 if align in MARKERS else 0))
    return MARKERS.get(align, "{}").format(dashes)


def pad(text, width, align):
    if align == "right":
        return text.rjust(width)
    if align == "center":
        return text.center(width)
    return text.ljust(width)
