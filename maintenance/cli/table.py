"""Plain text tables for the maintenance commands, aligned for mixed Chinese and Latin text."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes (Chinese characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def format_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Plain aligned columns, correct for mixed Chinese and Latin text."""
    all_rows = [list(header), *[list(r) for r in rows]]
    widths = [max(display_width(r[i]) for r in all_rows) for i in range(len(header))]
    lines = []
    for cells in all_rows:
        padded = [c + " " * (w - display_width(c)) for c, w in zip(cells, widths, strict=True)]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)
