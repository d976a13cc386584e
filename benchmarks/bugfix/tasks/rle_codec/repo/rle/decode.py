"""Decode <count><char> runs; counts may have any number of digits."""


def decode(data):
    out, count = [], ""
    for ch in data:
        if ch.isdigit():
            count = ch
            continue
        if not count:
            raise ValueError(f"missing count before {ch!r}")
        out.append(ch * int(count))
        count = ""
    if count:
        raise ValueError("data ends with a count")
    return "".join(out)
