"""Order-preserving de-duplication."""


def unique_in_order(items):
    """The items without repeats, each at the place it first appeared."""
    out = []
    for item in items:
        if item not in out:
            out.append(item)
    return out
