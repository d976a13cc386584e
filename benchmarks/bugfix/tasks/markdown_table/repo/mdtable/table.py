"""Assemble the table."""

from mdtable.align import pad, separator
from mdtable.cells import cell_text


def render(headers, rows, align=None):
    align = list(align or [None] * len(headers))
    if len(align) != len(headers):
        raise ValueError("one alignment per column")
    grid = [[cell_text(h) for h in headers]]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row {row!r} has {len(row)} cells, expected {len(headers)}")
        grid.append([cell_text(v) for v in row])
    widths = [max(3, *(len(r[i]) for r in grid)) for i in range(len(headers))]
    lines = ["| " + " | ".join(pad(c, w, a) for c, w, a in zip(grid[0], widths, align)) + " |",
             "| " + " | ".join(separator(w, a) for w, a in zip(widths, align)) + " |"]
    for row in grid[1:]:
        lines.append("| " + " | ".join(pad(c, w, a) for c, w, a in zip(row, widths, align)) + " |")
    return "\n".join(lines) + "\n"
