"""What a device's status tile says, from its latest bus message: a pure function.

The dashboard never decides alarm states: the alarm engine does, and a tile only takes the
highest priority of the asset's active alarms (from the alarm store) for its colour. Here we
pick the device class's key value, format it, and say whether communication is good.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# (point, secondary point) shown on the tile of each device class
KEY_POINTS: dict[str, tuple[str, str | None]] = {
    "PMP": ("discharge_pressure", "run_state"),
    "PDP": ("pool_level", "pump_running"),
    "TNK": ("level", "volume_pct"),
    "LGT": ("contactor_on", "lamps_failed"),
    "FAP": ("panel_state", None),
}
PRIORITY_ORDER = ("critical", "high", "medium", "low")
BAD = "—"


@dataclass(frozen=True, slots=True)
class TileState:
    """One tile: its key-value text, communication state and colour class."""

    value: str
    comm_ok: bool
    css: str  # tile-ok, tile-bad, tile-stale, tile-uncertain, tile-alarm-<priority>

    def as_json(self) -> dict[str, Any]:
        return {"value": self.value, "comm_ok": self.comm_ok, "css": self.css}


def format_value(value: object, unit: str, states: Mapping[int, str] | None = None) -> str:
    """A reading as a person reads it: named states, on/off, 2 decimals at most."""
    if value is None:
        return BAD
    if isinstance(value, bool):
        return "on" if value else "off"
    if states is not None and isinstance(value, int | float) and int(value) in states:
        return states[int(value)]
    text = f"{value:.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    return f"{text} {unit}".strip()


def highest_priority(priorities: list[str]) -> str | None:
    """The most urgent of some alarm priorities (None for none)."""
    known = [p for p in PRIORITY_ORDER if p in priorities]
    return known[0] if known else None


def tile_state(
    device_class: str,
    points: Mapping[str, Mapping[str, Any]],
    health: Mapping[str, Any],
    *,
    alarm_priority: str | None = None,
    states: Mapping[str, Mapping[int, str]] | None = None,
    age_s: float = 0.0,
    stale_after_s: float = 60.0,
) -> TileState:
    """The tile of one device from its latest message (``points``: name → {v, u, q})."""
    states = states or {}
    key, second = KEY_POINTS.get(device_class, (next(iter(points), ""), None))
    parts: list[str] = []
    worst_quality = "good"
    for name in (key, second):
        if name is None or name not in points:
            continue
        entry = points[name]
        quality = str(entry.get("q", "good"))
        text = format_value(entry.get("v"), str(entry.get("u", "")), states.get(name))
        parts.append(text if quality == "good" else f"{text} ({quality})")
        if name == key and quality != "good":
            worst_quality = quality
    comm_ok = bool(health.get("comm_ok", True))
    if alarm_priority is not None:
        css = f"tile-alarm-{alarm_priority}"
    elif not comm_ok or worst_quality.startswith("bad"):
        css = "tile-bad"
    elif age_s > stale_after_s:
        css = "tile-stale"
    elif worst_quality.startswith("uncertain"):
        css = "tile-uncertain"
    else:
        css = "tile-ok"
    return TileState(" · ".join(parts) if parts else BAD, comm_ok, css)
