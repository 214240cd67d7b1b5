"""What the asset page shows besides its trend: the ledger record's fields and each live
point's cells (value, quality, age, state) — pure functions over plain data.

A live cell is judged as the overview's tile is (``dashboards.tiles``): a point is ``stale``
when it is older than its own poll window or the device's newest message is old, ``bad``
when communication is lost or its quality is bad, ``uncertain``, ``ok``, or ``nodata`` when
the device never sent it — and the page colours them with the tiles' ISA-101 greys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dashboards.tiles import BAD, KEY_POINTS, format_age, format_value
from facility.types import Asset


@dataclass(frozen=True, slots=True)
class LivePoint:
    """A point of the asset's profile as the live table shows it."""

    name: str
    label_en: str
    label_zh: str
    unit: str
    states: Mapping[int, str] | None = None
    stale_after_s: float | None = None  # three of its poll period (None: the device's)

    def label(self, lang: str) -> str:
        return self.label_zh if lang == "zh" and self.label_zh else self.label_en


@dataclass(frozen=True, slots=True)
class LiveTexts:
    """The words of one language a live cell uses (from ``dashboards.i18n``)."""

    on: str = "on"
    off: str = "off"
    no_data: str = "no data"
    age_ago: str = "{age} ago"
    qualities: Mapping[str, str] | None = None  # quality code -> label


def key_first(points: Sequence[LivePoint], device_class: str) -> list[LivePoint]:
    """The profile's points with the class's key points (the tile's) first, in profile
    order otherwise."""
    keys = [k for k in KEY_POINTS.get(device_class, ("", None)) if k]
    rank = {name: i for i, name in enumerate(keys)}
    return sorted(points, key=lambda p: rank.get(p.name, len(keys)))


def live_cell(
    point: LivePoint,
    entry: Mapping[str, Any] | None,
    *,
    now_ms: int,
    comm_ok: bool,
    device_stale: bool,
    texts: LiveTexts,
) -> dict[str, str]:
    """One point's cells: ``{"value", "quality", "age", "state"}``; ``entry`` is the live
    feed's ``{"v", "u", "q", "t"}`` of the point (None: the device never sent it)."""
    if entry is None:
        return {"value": BAD, "quality": texts.no_data, "age": "", "state": "nodata"}
    quality = str(entry.get("q", "good"))
    value = entry.get("v")
    if isinstance(value, bool):
        text = texts.on if value else texts.off
    else:
        text = format_value(value, str(entry.get("u", point.unit) or ""), point.states)
    collected = entry.get("t")
    age_s: float | None = None
    if isinstance(collected, int) and not isinstance(collected, bool):
        age_s = max(0.0, (now_ms - collected) / 1000)
    window = point.stale_after_s
    stale = device_stale or (age_s is not None and window is not None and age_s > window)
    if stale:
        state = "stale"  # old news whatever it said: its own grey, before "bad" or "ok"
    elif not comm_ok or quality.startswith("bad"):
        state = "bad"
    elif quality.startswith("uncertain"):
        state = "uncertain"
    else:
        state = "ok"
    labels = texts.qualities or {}
    return {
        "value": text,
        "quality": labels.get(quality, quality),
        "age": texts.age_ago.format(age=format_age(age_s)) if age_s is not None else "",
        "state": state,
    }


def record_fields(asset: Asset, lang: str) -> list[tuple[str, str, str | None]]:
    """The ledger record as (i18n key of the label, value, i18n key of the value's words or
    None for a value shown as it is), in the order shown."""
    name = asset.name_zh if lang == "zh" and asset.name_zh else asset.name_en
    location = " / ".join(p for p in (asset.building, asset.zone) if p)
    return [
        ("rec_asset_no", asset.asset_no, None),
        ("rec_name", name, None),
        ("rec_class", asset.device_class.value, f"cls_{asset.device_class.value}"),
        ("rec_make", asset.make, None),
        ("rec_model", asset.model, None),
        ("rec_serial", asset.serial, None),
        ("rec_installed", asset.install_date.isoformat() if asset.install_date else "", None),
        ("rec_location", location, None),
        ("rec_system", asset.system, f"sys_{asset.system}" if asset.system else None),
        ("rec_criticality", asset.criticality.value, f"crit_{asset.criticality.value}"),
        ("rec_status", asset.status.value, f"ast_{asset.status.value}"),
        ("rec_parent", asset.parent_asset_no or "", None),
    ]
