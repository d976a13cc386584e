# Plain data over a pipe: the only thing that crosses from a process that ran the agent's code
# to the trusted side. Values travel as `marshal` of exact builtin types (a built-in module:
# no import time, and it cannot carry an instance of any other class); the trusted side
# checks every element's exact type after loading, so a value whose comparison methods lie
# cannot arrive as anything but what it claims to be. Standard library only: this text is
# prepended to the in-container scripts.
import marshal as _marshal
import struct as _struct

_MAX_DEPTH = 200
_ATOMS = (type(None), bool, int, float, complex, str, bytes)
_CONTAINERS = (list, tuple, set, frozenset, dict)
_FRAME = _struct.Struct(">I")


def to_plain(value, depth=0):
    """`value` as exact builtin data (subclasses read through their base), or TypeError."""
    if depth > _MAX_DEPTH:
        raise TypeError("value nested too deeply")
    d = depth + 1
    if value is None or type(value) in _ATOMS:
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, complex):
        return complex(float.__float__(value.real), float.__float__(value.imag))
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, tuple):
        return tuple(to_plain(v, d) for v in tuple.__iter__(value))
    if isinstance(value, list):
        return [to_plain(v, d) for v in list.__iter__(value)]
    if isinstance(value, dict):
        return {to_plain(k, d): to_plain(v, d) for k, v in dict.items(value)}
    if isinstance(value, frozenset):
        return frozenset(to_plain(v, d) for v in frozenset.__iter__(value))
    if isinstance(value, set):
        return {to_plain(v, d) for v in set.__iter__(value)}
    raise TypeError(f"not plain data: {type(value).__name__}")


class Unrelated:
    """An object nothing honest compares equal to (the probe for lying comparisons)."""


def leaves(value, budget):
    """The items inside builtin containers of `value` (at most `budget` looked at), for the
    probes: only what is not a list, tuple, set or dict is yielded."""
    stack = [value]
    while stack and budget > 0:
        budget -= 1
        item = stack.pop()
        if type(item) in (list, tuple, set, frozenset):
            stack.extend(item)
        elif type(item) is dict:
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            yield item


def check_plain(value):
    """`value` when it holds nothing but exact builtin data; ValueError otherwise."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if depth > _MAX_DEPTH or (kind not in _ATOMS and kind not in _CONTAINERS):
            raise ValueError(f"not plain data: {kind.__name__}")
        if kind is dict:
            stack.extend((x, depth + 1) for pair in item.items() for x in pair)
        elif kind in _CONTAINERS:
            stack.extend((x, depth + 1) for x in item)
    return value


def frame_send(fd, obj, prefix=b""):
    import os

    data = prefix + _marshal.dumps(obj)
    view = memoryview(_FRAME.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def frame_read(fd, limit, deadline=None):
    """One frame's raw bytes from `fd`, or None at end of file. Past `deadline`
    (monotonic): TimeoutError. Larger than `limit`: ValueError."""
    import os
    import select
    import time

    def read(n):
        buf = b""
        while len(buf) < n:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    raise TimeoutError("no answer before the time limit")
            chunk = os.read(fd, min(n - len(buf), 1 << 20))
            if not chunk:
                return None
            buf += chunk
        return buf

    head = read(_FRAME.size)
    if head is None:
        return None
    (size,) = _FRAME.unpack(head)
    if size > limit:
        raise ValueError(f"a message of {size} bytes is over the limit of {limit}")
    return read(size)


def frame_recv(fd, limit, deadline=None):
    """One marshalled frame (loaded, not yet checked), or None at end of file."""
    body = frame_read(fd, limit, deadline)
    return None if body is None else _marshal.loads(body)
