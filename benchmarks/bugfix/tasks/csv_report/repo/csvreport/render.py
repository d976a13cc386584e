"""Plain-text rendering of totals."""


def render_report(title, totals):
    width = max([len(name) for name, _ in totals] + [5])
    lines = [title, "=" * len(title)]
    for name, amount in totals:
        lines.append(f"{name:<{width}}  {amount:>10.2f}")
    grand = sum((amount for _, amount in totals), 0)
    lines.append(f"{'TOTAL':<{width}}  {grand:>10.2f}")
    return "\n".join(lines) + "\n"
