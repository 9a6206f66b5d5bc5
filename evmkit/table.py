"""Plain aligned text tables (no dependency; readable in CI logs)."""

from __future__ import annotations

from collections.abc import Sequence


def format_table(rows: Sequence[Sequence[object]], header: Sequence[str] | None = None) -> str:
    cells = [[str(c) for c in row] for row in rows]
    if header:
        cells.insert(0, [str(h) for h in header])
    if not cells:
        return ""
    widths = [max(len(r[i]) for r in cells if i < len(r)) for i in range(max(map(len, cells)))]
    lines = []
    for n, row in enumerate(cells):
        padded = [c.ljust(widths[i]) if i < len(row) - 1 else c for i, c in enumerate(row)]
        lines.append("  ".join(padded).rstrip())
        if header and n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_table(rows: Sequence[Sequence[object]], header: Sequence[str] | None = None) -> None:
    print(format_table(rows, header))
