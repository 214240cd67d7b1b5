"""The dashboard's pure parts: what a tile says and its colour, and the label table."""

from __future__ import annotations

import pytest

from dashboards.i18n import LABELS, LANGS, normalise, t
from dashboards.tiles import BAD, format_value, highest_priority, tile_state


@pytest.mark.parametrize(
    ("value", "unit", "states", "expected"),
    [
        (4.2100001, "bar", None, "4.21 bar"),
        (3.0, "m", None, "3 m"),
        (True, "", None, "on"),
        (False, "", None, "off"),
        (0, "", {0: "normal", 1: "fire"}, "normal"),
        (7, "", {0: "normal"}, "7"),
        (None, "bar", None, BAD),
        ("V2.31", "", None, "V2.31"),
    ],
)
def test_format_value(
    value: object, unit: str, states: dict[int, str] | None, expected: str
) -> None:
    assert format_value(value, unit, states) == expected


GOOD_PUMP = {
    "discharge_pressure": {"v": 4.2, "u": "bar", "q": "good"},
    "run_state": {"v": 1, "u": "", "q": "good"},
}


@pytest.mark.parametrize(
    ("points", "health", "kwargs", "value", "css"),
    [
        (GOOD_PUMP, {"comm_ok": True}, {}, "4.2 bar · 1", "tile-ok"),
        (GOOD_PUMP, {"comm_ok": True}, {"states": {"run_state": {1: "running"}}},
         "4.2 bar · running", "tile-ok"),
        (GOOD_PUMP, {"comm_ok": True}, {"alarm_priority": "high"}, "4.2 bar · 1",
         "tile-alarm-high"),
        (GOOD_PUMP, {"comm_ok": True}, {"age_s": 120.0, "stale_after_s": 60.0}, "4.2 bar · 1",
         "tile-stale"),
        ({"discharge_pressure": {"v": None, "u": "bar", "q": "bad_comm"}}, {"comm_ok": False}, {},
         "— (bad_comm)", "tile-bad"),
        ({"discharge_pressure": {"v": 19.0, "u": "bar", "q": "uncertain_range"}}, {}, {},
         "19 bar (uncertain_range)", "tile-uncertain"),
    ],
)  # fmt: skip
def test_pump_tile(
    points: dict[str, dict[str, object]],
    health: dict[str, object],
    kwargs: dict[str, object],
    value: str,
    css: str,
) -> None:
    tile = tile_state("PMP", points, health, **kwargs)  # type: ignore[arg-type]
    assert (tile.value, tile.css) == (value, css)


def test_alarm_colour_wins_over_lost_communication() -> None:
    tile = tile_state("FAP", {"panel_state": {"v": None, "u": "", "q": "bad_comm"}},
                      {"comm_ok": False}, alarm_priority="critical")  # fmt: skip
    assert (tile.css, tile.comm_ok) == ("tile-alarm-critical", False)


def test_each_class_shows_its_key_point() -> None:
    assert tile_state("TNK", {"level": {"v": 2.5, "u": "m", "q": "good"}}, {}).value == "2.5 m"
    assert (
        tile_state("LGT", {"contactor_on": {"v": False, "u": "", "q": "good"}}, {}).value == "off"
    )
    pool = {"pool_level": {"v": 38.0, "u": "cm", "q": "good"}, "other": {"v": 1, "q": "good"}}
    assert tile_state("PDP", pool, {}).value == "38 cm"


def test_highest_priority() -> None:
    assert highest_priority(["low", "critical", "high"]) == "critical"
    assert highest_priority([]) is None


def test_every_label_has_both_languages() -> None:
    missing = [key for key, entry in LABELS.items() if set(entry) != set(LANGS)]
    assert missing == []
    assert t("nav_overview", "zh") == "总览"
    assert t("nav_overview", "xx") == "Overview"
    assert t("no_such_label", "en") == "no_such_label"
    assert normalise("zh") == "zh"
    assert normalise(None) == "en"
