"""What a device's status tile says, from its latest bus message: a pure function.

The dashboard never decides alarm states: the alarm engine does, and a tile only takes the
highest priority of the asset's active alarms (from the alarm store) for its colour. Here we
pick the device class's key value, format it, and say whether communication is good.

What is live carries its age: a device whose newest reading is older than its
:func:`stale_after` (three of its fastest poll periods) is ``stale`` — its own grey state and
text, never "online" (issue 9: a frozen collector left every tile saying online). The banner
says the age of the newest reading of all and which services the watchdog finds silent or
stalled (:func:`live_banner`); the verdicts come from ``gateway.alarms.watchdog``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from facility.types import PRIORITY_ORDER

# (point, secondary point) shown on the tile of each device class
KEY_POINTS: dict[str, tuple[str, str | None]] = {
    "PMP": ("discharge_pressure", "run_state"),
    "PDP": ("pool_level", "pump_running"),
    "TNK": ("level", "volume_pct"),
    "LGT": ("contactor_on", "lamps_failed"),
    "FAP": ("panel_state", None),
}
# a unit-less count shown on a tile says what it counts ("on · 0" read as a reading of 0):
# point -> the i18n key of its "{n} ..." text
TILE_COUNTS: dict[str, str] = {"lamps_failed": "tile_lamps_failed"}
BAD = "—"
STALE_POLLS = 3  # a device is stale after this many of its fastest poll periods
MIN_STALE_S = 15.0  # a hiccup of a fast device is not yet stale; a stopped one is, well within 30 s


def stale_after(poll_periods_s: Iterable[float], default_s: float) -> float:
    """How old a device's newest reading may be before its tile says stale."""
    periods = [p for p in poll_periods_s if p > 0]
    if not periods:
        return default_s
    return max(STALE_POLLS * min(periods), MIN_STALE_S)


def format_age(age_s: float) -> str:
    """``4 s``, ``3 min``, ``2 h``: how old a reading is, for people."""
    if age_s < 90:
        return f"{age_s:.0f} s"
    if age_s < 90 * 60:
        return f"{age_s / 60:.0f} min"
    return f"{age_s / 3600:.0f} h"


@dataclass(frozen=True, slots=True)
class TileState:
    """One tile: its key-value text, communication state and colour classes.

    ``state`` is one of ``ok``, ``uncertain``, ``bad`` (communication lost or bad quality),
    ``stale`` (old news, whatever it said) or ``nodata``; ``css`` is the state's class, with
    the alarm class in front when an alarm stands — the alarm colour never hides that the
    data are stale or the device silent (issue 12)."""

    value: str
    comm_ok: bool
    css: str  # tile-<state>, with tile-alarm-<priority> first when an alarm stands
    stale: bool = False
    age_s: float = 0.0
    state: str = "ok"
    quality: str = "good"  # the worst quality of the key points shown

    def as_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "comm_ok": self.comm_ok,
            "css": self.css,
            "stale": self.stale,
            "age_s": round(self.age_s, 1),
            "state": self.state,
            "quality": self.quality,
        }


def format_number(value: float) -> str:
    """A float as a person reads it: 2 decimals at most, no binary noise (150.2, not
    150.1999999999999886)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def format_value(value: object, unit: str, states: Mapping[int, str] | None = None) -> str:
    """A reading as a person reads it: named states, on/off, 2 decimals at most."""
    if value is None:
        return BAD
    if isinstance(value, bool):
        return "on" if value else "off"
    if states is not None and isinstance(value, int | float) and int(value) in states:
        return states[int(value)]
    text = format_number(value) if isinstance(value, float) else str(value)
    return f"{text} {unit}".strip()


def highest_priority(priorities: list[str]) -> str | None:
    """The most urgent of some alarm priorities (None for none)."""
    known = [p for p in PRIORITY_ORDER if p in priorities]
    return known[0] if known else None


def _worse(a: str, b: str) -> str:
    rank = {"good": 0, "uncertain": 1, "bad": 2}
    return a if rank[a.split("_")[0]] >= rank.get(b.split("_")[0], 0) else b


def tile_state(
    device_class: str,
    points: Mapping[str, Mapping[str, Any]],
    health: Mapping[str, Any],
    *,
    alarm_priority: str | None = None,
    states: Mapping[str, Mapping[int, str]] | None = None,
    age_s: float = 0.0,
    stale_after_s: float = 60.0,
    now_ms: int | None = None,
    point_stale_after_s: Mapping[str, float] | None = None,
    quality_labels: Mapping[str, str] | None = None,
    on_off: tuple[str, str] = ("on", "off"),
    counts: Mapping[str, str] | None = None,
) -> TileState:
    """The tile of one device from its merged points (``points``: name → {v, u, q, t}).

    ``age_s`` is the age of the device's newest message; ``t`` in a point is when the point
    itself was last collected — the key points of a slow poll class are older than the
    device's newest message, and each is judged stale against its own poll window
    (``point_stale_after_s``) when ``now_ms`` is given. ``counts`` gives a unit-less count
    its words: point -> ``"{n} lamps failed"``."""
    states = states or {}
    counts = counts or {}
    quality_labels = quality_labels or {}
    point_stale_after_s = point_stale_after_s or {}
    key, second = KEY_POINTS.get(device_class, (next(iter(points), ""), None))
    parts: list[str] = []
    worst_quality = "good"
    point_stale = False
    oldest_s = age_s  # the age shown: of the oldest key value, at least the device's
    shown = 0
    for name in (key, second):
        if name is None or name not in points:
            continue
        shown += 1
        entry = points[name]
        quality = str(entry.get("q", "good"))
        value = entry.get("v")
        if isinstance(value, bool):
            text = on_off[0] if value else on_off[1]
        else:
            text = format_value(value, str(entry.get("u", "")), states.get(name))
            if name in counts and isinstance(value, int | float):
                text = counts[name].format(n=text)
        parts.append(
            text if quality == "good" else f"{text} ({quality_labels.get(quality, quality)})"
        )
        worst_quality = _worse(quality, worst_quality) if quality != "good" else worst_quality
        collected = entry.get("t")
        if now_ms is not None and isinstance(collected, int):
            point_age = max(0.0, (now_ms - collected) / 1000)
            oldest_s = max(oldest_s, point_age)
            window = point_stale_after_s.get(name)
            point_stale = point_stale or (window is not None and point_age > window)
    comm_ok = bool(health.get("comm_ok", True))
    stale = age_s > stale_after_s or point_stale
    if shown == 0:
        state = "nodata"  # a message, but none of the key points yet: not a value of 0
    elif stale:
        state = "stale"  # old news whatever it said: its own grey, before "bad" or "ok"
    elif not comm_ok or worst_quality.startswith("bad"):
        state = "bad"
    elif worst_quality.startswith("uncertain"):
        state = "uncertain"
    else:
        state = "ok"
    classes = [f"tile-{state}"]
    if alarm_priority is not None:
        # the engine's state is current, the value may not be: both are shown
        classes = [f"tile-alarm-{alarm_priority}"] + ([] if state == "ok" else classes)
    value_text = " · ".join(parts) if parts else BAD
    return TileState(value_text, comm_ok, " ".join(classes), stale, oldest_s, state, worst_quality)


@dataclass(frozen=True, slots=True)
class ServiceProblem:
    """A service the watchdog does not find ok (kind, id, silent/stalled/offline, why)."""

    kind: str
    service_id: str
    health: str
    reason: str


def live_banner(
    connected: bool,
    newest_age_s: float | None,
    stale_after_s: float,
    problems: Sequence[ServiceProblem],
    labels: Mapping[str, str],
) -> tuple[str, str]:
    """The overview's banner (text, kind ``ok``/``warn``/``error``): the broker link, the
    age of the newest reading of all, and every service that is silent, stalled or offline.

    ``labels`` holds the texts of one language (keys ``live_down``, ``live_fresh``,
    ``live_old``, ``live_none``, ``live_services``)."""
    if not connected:
        return labels["live_down"], "error"
    kind = "ok"
    if newest_age_s is None:
        text, kind = labels["live_none"], "warn"
    elif newest_age_s > stale_after_s:
        text, kind = labels["live_old"].format(age=format_age(newest_age_s)), "error"
    else:
        text = labels["live_fresh"].format(age=format_age(newest_age_s))
    if problems:
        listed = "; ".join(f"{p.kind} {p.service_id} {p.health} ({p.reason})" for p in problems)
        text = f"{text} · {labels['live_services']}: {listed}"
        kind = "error"
    return text, kind
