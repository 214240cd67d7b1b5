"""An asset's QR code as SVG text, drawn from ``maintenance.sheet.qr_matrix`` (the matrix the
printed sheets and labels use): one ``<path>`` of unit squares, a quiet zone of four modules,
no image library. The page shows it as ``data:image/svg+xml`` (as the site plans are shown),
so no markup is injected into the page."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from maintenance.sheet import qr_matrix

QUIET = 4  # modules of light margin the QR standard asks for


def matrix_path(matrix: Sequence[Sequence[bool]]) -> str:
    """The dark modules as one SVG path: a horizontal run of dark modules is one rectangle
    (``M x y h n v 1 h -n z``), in module units."""
    parts: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if not row[x]:
                x += 1
                continue
            start = x
            while x < len(row) and row[x]:
                x += 1
            run = x - start
            parts.append(f"M{start + QUIET} {y + QUIET}h{run}v1h-{run}z")
    return "".join(parts)


def qr_svg(matrix: Sequence[Sequence[bool]]) -> str:
    """A standalone SVG document of the matrix (white background, quiet zone included)."""
    width = max((len(row) for row in matrix), default=0) + 2 * QUIET
    height = len(matrix) + 2 * QUIET
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'shape-rendering="crispEdges"><rect width="{width}" height="{height}" fill="#fff"/>'
        f'<path d="{matrix_path(matrix)}" fill="#000"/></svg>'
    )


def qr_data_url(text: str) -> str:
    """The QR code of ``text`` as a ``data:image/svg+xml`` URL."""
    svg = qr_svg(qr_matrix(text))
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("ascii")).decode("ascii")
