"""The dashboard's pure parts: what a tile says and its colour, and the label table."""

from __future__ import annotations

import pytest

from dashboards.i18n import LABELS, LANGS, normalise, t
from dashboards.tiles import (
    BAD,
    TILE_COUNTS,
    ServiceProblem,
    format_age,
    format_value,
    highest_priority,
    live_banner,
    stale_after,
    tile_state,
)


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
        (150.1999999999999886, "kW", None, "150.2 kW"),
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


def test_alarm_colour_goes_first_but_does_not_hide_lost_communication_or_staleness() -> None:
    tile = tile_state("FAP", {"panel_state": {"v": None, "u": "", "q": "bad_comm"}},
                      {"comm_ok": False}, alarm_priority="critical")  # fmt: skip
    assert (tile.css, tile.comm_ok) == ("tile-alarm-critical tile-bad", False)
    old = tile_state("FAP", {"panel_state": {"v": 0, "u": "", "q": "good"}}, {},
                     alarm_priority="high", age_s=600.0, stale_after_s=30.0)  # fmt: skip
    assert old.css == "tile-alarm-high tile-stale"
    fresh = tile_state("FAP", {"panel_state": {"v": 0, "u": "", "q": "good"}}, {},
                       alarm_priority="high")  # fmt: skip
    assert fresh.css == "tile-alarm-high"


def test_a_key_value_older_than_its_own_poll_window_is_stale_though_the_device_is_not() -> None:
    now_ms = 1_800_000_000_000
    points = {
        "discharge_pressure": {"v": 4.0, "u": "bar", "q": "good", "t": now_ms - 300_000},
        "run_state": {"v": 1, "u": "", "q": "good", "t": now_ms - 1_000},
    }
    windows = {"discharge_pressure": 30.0, "run_state": 30.0}
    tile = tile_state("PMP", points, {"comm_ok": True}, age_s=1.0, stale_after_s=30.0,
                      now_ms=now_ms, point_stale_after_s=windows)  # fmt: skip
    assert (tile.state, tile.stale, tile.age_s) == ("stale", True, 300.0)
    points["discharge_pressure"]["t"] = now_ms - 2_000
    tile = tile_state("PMP", points, {"comm_ok": True}, age_s=1.0, stale_after_s=30.0,
                      now_ms=now_ms, point_stale_after_s=windows)  # fmt: skip
    assert (tile.state, tile.css) == ("ok", "tile-ok")


def test_a_message_without_the_key_points_is_no_data_not_ok() -> None:
    tile = tile_state("LGT", {"energy": {"v": 12.0, "u": "kWh", "q": "good"}}, {})
    assert (tile.value, tile.state, tile.css) == (BAD, "nodata", "tile-nodata")


def test_messages_of_each_poll_class_merge_and_the_newer_reading_wins() -> None:
    from dashboards.live import DeviceState, merge_state

    fast = DeviceState("HT", "HT-LGT-001", "LGT",
                       {"contactor_on": {"v": True, "u": "", "q": "good", "t": 2000}},
                       {"comm_ok": True}, 2000, 2001)  # fmt: skip
    slow = DeviceState("HT", "HT-LGT-001", "LGT",
                       {"lamps_failed": {"v": 2, "u": "", "q": "good", "t": 1000},
                        "contactor_on": {"v": False, "u": "", "q": "good", "t": 1000}},
                       {"comm_ok": False}, 1000, 2002)  # fmt: skip
    merged = merge_state(fast, slow)  # an older retained message arriving late
    assert merged.points["contactor_on"]["v"] is True  # the newer reading stays
    assert merged.points["lamps_failed"]["v"] == 2  # the slow poll's point is added
    assert (merged.collected_ms, merged.health) == (2000, {"comm_ok": True})
    assert merge_state(None, fast) is fast


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


# -- freshness (issue 9): stale is its own state, never "online" -------------------------------


@pytest.mark.parametrize(
    ("points", "health", "age_s", "css", "stale"),
    [
        (GOOD_PUMP, {"comm_ok": True}, 5.0, "tile-ok", False),
        (GOOD_PUMP, {"comm_ok": True}, 31.0, "tile-stale", True),
        # old news whatever it said: a bad reading an hour old is stale, not "bad"
        ({"discharge_pressure": {"v": None, "u": "bar", "q": "bad_comm"}}, {"comm_ok": False},
         3600.0, "tile-stale", True),
        ({"discharge_pressure": {"v": 19.0, "u": "bar", "q": "uncertain_range"}}, {}, 31.0,
         "tile-stale", True),
    ],
)  # fmt: skip
def test_a_reading_older_than_its_window_is_stale(
    points: dict[str, dict[str, object]],
    health: dict[str, object],
    age_s: float,
    css: str,
    stale: bool,
) -> None:
    tile = tile_state("PMP", points, health, age_s=age_s, stale_after_s=30.0)  # type: ignore[arg-type]
    assert (tile.css, tile.stale) == (css, stale)
    assert tile.as_json()["stale"] is stale


@pytest.mark.parametrize(
    ("periods", "expected"),
    [
        ([1.0, 10.0, 60.0], 15.0),
        ([15.0, 60.0], 45.0),
        ([2.0], 15.0),
        ([10.0], 30.0),
        ([], 60.0),
        ([0.0], 60.0),
    ],
)
def test_stale_window_is_three_of_the_fastest_polls(periods: list[float], expected: float) -> None:
    assert stale_after(periods, 60.0) == expected


LABELS_EN = {k: t(k, "en") for k in ("live_down", "live_fresh", "live_old", "live_none",
                                     "live_services")}  # fmt: skip
STALLED = ServiceProblem(
    "collector", "collector-1", "stalled", "publishing stalled: published_total unchanged for 24 s"
)


@pytest.mark.parametrize(
    ("connected", "newest", "problems", "text", "kind"),
    [
        (False, 3.0, [], "Live data unavailable: the MQTT broker cannot be reached", "error"),
        (True, 3.0, [], "Live: connected, newest reading 3 s ago", "ok"),
        (True, None, [], "Live: connected, no readings yet", "warn"),
        # the frozen collector: the broker is fine, the data is not
        (True, 150.0, [], "No new readings for 2 min (broker connected)", "error"),
        (True, 4.0, [STALLED], "Live: connected, newest reading 4 s ago · services not "
         "working: collector collector-1 stalled (publishing stalled: published_total "
         "unchanged for 24 s)", "error"),
    ],
)  # fmt: skip
def test_banner_says_how_fresh_the_data_is_and_which_service_stopped(
    connected: bool, newest: float | None, problems: list[ServiceProblem], text: str, kind: str
) -> None:
    assert live_banner(connected, newest, 60.0, problems, LABELS_EN) == (text, kind)


def test_format_age() -> None:
    assert [format_age(s) for s in (4, 89, 150, 5400, 7200)] == ["4 s", "89 s", "2 min", "2 h",
                                                                 "2 h"]  # fmt: skip


def test_one_retained_message_fills_the_device_with_each_points_own_time() -> None:
    """Decision 008: the message carries the other classes' points as last read, so a
    dashboard starting cold has the lighting's failed lamps at once — with their age."""
    from datetime import UTC, datetime

    from dashboards.live import LiveFeed
    from facility.mqtt import BrokerSettings
    from facility.payload import DeviceMessage, device_topic, encode
    from facility.types import Quality, Reading

    now = datetime(2026, 11, 26, 8, 0, 1, tzinfo=UTC)
    slow = datetime(2026, 11, 26, 7, 59, 30, tzinfo=UTC)
    message = DeviceMessage(
        "HT", "HT-LGT-001", "LGT", 9, now,
        (Reading("HT", "HT-LGT-001", "contactor_on", True, "", Quality.GOOD, None, now),),
        {"comm_ok": True},
        (Reading("HT", "HT-LGT-001", "lamps_failed", 2, "", Quality.GOOD, None, slow),),
    )  # fmt: skip
    feed = LiveFeed(BrokerSettings("127.0.0.1", 1))  # never started: fed by hand
    feed._receive(device_topic("HT", "HT-LGT-001"), encode(message))
    points = feed.snapshot()["HT-LGT-001"].points
    assert points["lamps_failed"]["v"] == 2
    assert points["lamps_failed"]["t"] == int(slow.timestamp() * 1000)
    assert points["contactor_on"]["t"] == int(now.timestamp() * 1000)


def test_a_count_without_a_unit_says_what_it_counts() -> None:
    """Session 6, the demo as the operator saw it: every lighting tile read "on · 0", which
    reads as a reading of 0; the 0 is the circuit's failed lamps."""
    points = {
        "contactor_on": {"v": True, "u": "", "q": "good"},
        "lamps_failed": {"v": 0, "u": "", "q": "good"},
    }
    counts = {point: t(key, "en") for point, key in TILE_COUNTS.items()}
    assert tile_state("LGT", points, {}, counts=counts).value == "on · 0 lamps failed"
    counts_zh = {point: t(key, "zh") for point, key in TILE_COUNTS.items()}
    zh = tile_state("LGT", points, {}, on_off=("开", "关"), counts=counts_zh)
    assert zh.value == "开 · 0 盏灯故障"
