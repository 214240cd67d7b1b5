"""Helpers every part's commands may use: they import no part."""

from __future__ import annotations

import re

import click

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?", re.IGNORECASE)
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Seconds in ``30s``, ``5m``, ``1h30m``, ``1.5h`` or plain ``90`` (seconds)."""
    compact = text.strip().replace(" ", "")
    total = 0.0
    position = 0
    for match in _DURATION_RE.finditer(compact):
        if match.start() != position:
            break
        total += float(match[1]) * _UNIT_S[(match[2] or "s").lower()]
        position = match.end()
    if not compact or position != len(compact) or total <= 0:
        raise click.BadParameter(
            f"{text!r}: expected a duration such as 30s, 5m, 1h30m or 90 (seconds)"
        )
    return total
