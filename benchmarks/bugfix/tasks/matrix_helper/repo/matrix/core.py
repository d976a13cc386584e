"""Shape checks and constructors."""


def validate(m):
    if not m or not m[0]:
        raise ValueError("a matrix needs at least one row and one column")
    if any(len(row) != len(m[0]) for row in m):
        raise ValueError("rows have different lengths")
    return m


def shape(m):
    validate(m)
    return len(m), len(m[0])


def identity(n):
    return [[1 if i == j else 0 for j in range(n)] for i in range(n)]
