"""Order-preserving de-duplication."""


def unique_in_order(items):
    """The items without repeats, each at the place it first appeared."""
    seen = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out
