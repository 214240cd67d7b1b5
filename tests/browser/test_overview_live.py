"""The estates overview for the wall (issue 12), in headless Chromium over a real mosquitto
and a SQLite database seeded through the project's APIs (dashboards.sample): tiles merge the
values of every poll class, show their age and quality, stale and no-data are states of
their own, an alarm colour never hides staleness, each estate has a summary, tiles are
grouped by system with alarms first. An estate with a site plan can show it instead of its
tiles: pins coloured like the tiles, updated in place, each a link to the asset page."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from dashboards import ids
from dashboards.app import DashboardServer
from dashboards.queries import Queries
from dashboards.sample import seed_bus, seed_other_estate, seed_sql, seed_users
from devtools.services import MosquittoServer
from facility.config import DatabaseConfig, MqttConfig, PathsConfig, Settings
from facility.mqtt import BrokerSettings, publish_once
from facility.payload import DeviceMessage, device_topic, encode
from facility.types import PointValue, Quality, Reading
from maintenance.ledger_files import DEMO_DIR


@dataclass
class Served:
    url: str
    broker: BrokerSettings
    users: dict[str, tuple[str, str]]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A dashboard over its own broker (retained states of other tests stay out). Two
    estates: HT with the shipped demo plan in the plans folder, JU without one."""
    db_path: Path = tmp_path_factory.mktemp("overview") / "facility.db"
    plans = tmp_path_factory.mktemp("plans")
    for name in ("HT.svg", "HT.pins.csv"):
        shutil.copy(DEMO_DIR / "plans" / name, plans / name)
    with MosquittoServer(tmp_path_factory.mktemp("overview-bus")) as bus:
        settings = Settings(
            database=DatabaseConfig(url=f"sqlite:///{db_path}"),
            mqtt=MqttConfig(url=bus.url),
            paths=PathsConfig(plans_dir=str(plans)),
        )
        seed_sql(settings.database_url)
        seed_other_estate(settings.database_url, "JU")
        users = seed_users(settings.database_url)
        broker = BrokerSettings.from_url(bus.url)
        seed_bus(broker)
        queries = Queries(settings, ack_timeout_s=1.0)
        server = DashboardServer(settings, "127.0.0.1", 0, queries=queries, threads=4).start()
        try:
            yield Served(server.url, broker, users)
        finally:
            server.stop()


@pytest.fixture
def page(sign_in_as: Callable[..., Page], served: Served) -> Page:
    return sign_in_as(served.url, served.users["operator"])


def _id(component_id: str) -> str:
    return "#" + component_id


def publish(
    broker: BrokerSettings,
    asset_no: str,
    device_class: str,
    points: dict[str, tuple[PointValue, str]],
    at: datetime,
    *,
    comm_ok: bool = True,
    seq: int = 1,
) -> None:
    """One poll class's message, as a collector publishes it (only that class's points)."""
    readings = tuple(
        Reading("HT", asset_no, name, value, unit, Quality.GOOD, None, at)
        for name, (value, unit) in points.items()
    )
    message = DeviceMessage("HT", asset_no, device_class, seq, at, readings, {"comm_ok": comm_ok})
    publish_once(broker, device_topic("HT", asset_no), encode(message), retain=True)


def test_tile_merges_the_values_of_every_poll_class(page: Page, served: Served) -> None:
    # lighting: the contactor comes in the fast poll, failed lamps in the slow one; the
    # second message must not wipe the first one's value (106 of 163 tiles showed "—")
    now = datetime.now(UTC)
    page.goto(served.url + "/")
    publish(served.broker, "HT-LGT-002", "LGT", {"contactor_on": (True, "")}, now, seq=1)
    value = page.locator(_id(ids.tile_value("HT-LGT-002")))
    expect(value).to_have_text("on")
    publish(served.broker, "HT-LGT-002", "LGT", {"lamps_failed": (3, "")}, now, seq=2)
    expect(value).to_have_text("on · 3 lamps failed")
    expect(page.locator(_id(ids.tile_comm("HT-LGT-002")))).to_have_text("online")
    # the tile says how old its values are
    expect(page.locator(_id(ids.tile_age("HT-LGT-002")))).to_have_text(re.compile(r"\d+ s ago"))


def test_stale_and_no_data_are_distinct_and_an_alarm_does_not_hide_staleness(
    page: Page, served: Served
) -> None:
    old = datetime.now(UTC) - timedelta(minutes=10)
    # a frozen collector's last word, retained: ten minutes old
    publish(served.broker, "HT-TNK-002", "TNK", {"level": (2.1, "m"), "volume_pct": (55.0, "%")},
            old)  # fmt: skip
    # the drain pump stands in a critical alarm, and its data are old too (the device's
    # fresh state is removed first: a merged state keeps the newer reading of each point)
    publish_once(served.broker, device_topic("HT", "HT-PDP-001"), b"", retain=True)
    publish(served.broker, "HT-PDP-001", "PDP",
            {"pool_level": (38.5, "cm"), "pump_running": (True, "")}, old)  # fmt: skip
    try:
        page.goto(served.url + "/")
        stale = page.locator(_id(ids.tile("HT-TNK-002")))
        expect(stale).to_have_class(re.compile(r"\btile-stale\b"))
        expect(page.locator(_id(ids.tile_comm("HT-TNK-002")))).to_have_text("stale · 10 min")
        alarm = page.locator(_id(ids.tile("HT-PDP-001")))
        expect(alarm).to_have_class(re.compile(r"\btile-alarm-critical\b"))
        expect(alarm).to_have_class(re.compile(r"\btile-stale\b"))
        # a monitored device that never published: no data, not stale, not a value of 0
        nodata = page.locator(_id(ids.tile("HT-PMP-003")))
        expect(nodata).to_have_class(re.compile(r"\btile-nodata\b"))
        expect(nodata).not_to_have_class(re.compile(r"\btile-stale\b"))
    finally:
        seed_bus(served.broker)


def test_online_is_not_taken_from_the_last_message_alone(page: Page, served: Served) -> None:
    # the fast poll keeps coming, but the pressure (a key value) was last read 5 min ago:
    # the tile must not say "online" over a frozen value
    now = datetime.now(UTC)
    publish(served.broker, "HT-PMP-004", "PMP",
            {"discharge_pressure": (4.0, "bar"), "run_state": (1, "")},
            now - timedelta(minutes=5), seq=1)  # fmt: skip
    publish(served.broker, "HT-PMP-004", "PMP", {"frequency": (40.0, "Hz")}, now, seq=2)
    page.goto(served.url + "/")
    comm = page.locator(_id(ids.tile_comm("HT-PMP-004")))
    expect(comm).to_have_text(re.compile(r"^stale"))
    expect(page.locator(_id(ids.tile("HT-PMP-004")))).to_have_class(re.compile(r"\btile-stale\b"))


def test_each_estate_has_a_summary_and_tiles_grouped_by_system_alarms_first(
    page: Page, served: Served
) -> None:
    seed_bus(served.broker)
    page.goto(served.url + "/")
    # sample alarms: a critical dry run, a high low level (acknowledged), a low lamp alarm
    expect(page.locator(_id(ids.summary_cell("HT", "critical")))).to_have_text("1")
    expect(page.locator(_id(ids.summary_cell("HT", "high")))).to_have_text("1")
    expect(page.locator(_id(ids.summary_cell("HT", "low")))).to_have_text("1")
    expect(page.locator(_id(ids.summary_cell("HT", "out_of_comm")))).to_have_text("1")
    expect(page.locator(_id(ids.summary_cell("HT", "open_orders")))).to_have_text("2")
    groups = page.locator(".system-group h3")
    expect(groups.first).to_contain_text("Water supply")
    # in the water-supply group the tank in alarm comes before the pumps that are not
    tank = page.locator(_id(ids.tile("HT-TNK-001"))).bounding_box()
    pump = page.locator(_id(ids.tile("HT-PMP-001"))).bounding_box()
    assert tank is not None
    assert pump is not None
    assert (tank["y"], tank["x"]) < (pump["y"], pump["x"])


def test_overview_updates_in_place_without_rebuilding_tiles(page: Page, served: Served) -> None:
    seed_bus(served.broker)
    page.goto(served.url + "/")
    value = page.locator(_id(ids.tile_value("HT-TNK-001")))
    expect(value).to_have_text("2.85 m · 71.3 %")
    page.evaluate(f"document.getElementById('{ids.tile('HT-TNK-001')}').dataset.mark = 'kept'")
    now = datetime.now(UTC)
    publish(served.broker, "HT-TNK-001", "TNK", {"level": (1.5, "m")}, now, seq=7)
    expect(value).to_have_text("1.5 m · 71.3 %")
    expect(page.locator(_id(ids.tile("HT-TNK-001")))).to_have_attribute("data-mark", "kept")
    seed_bus(served.broker)


def test_site_plan_pins_coloured_by_state_updated_in_place_and_link_to_the_asset(
    page: Page, served: Served
) -> None:
    seed_bus(served.broker)
    page.goto(served.url + "/")
    # HT has a plan: a toggle; JU has none: no toggle, only its tiles
    expect(page.locator(_id(ids.plan_toggle("HT", "plan")))).to_have_text("Site plan")
    expect(page.locator(_id(ids.tile("JU-PMP-001")))).to_be_visible()
    expect(page.locator(_id(ids.plan_toggle("JU", "plan")))).to_have_count(0)
    expect(page.locator(_id(ids.site_plan("JU")))).to_have_count(0)
    plan = page.locator(_id(ids.site_plan("HT")))
    expect(plan).to_be_hidden()

    page.locator(_id(ids.plan_toggle("HT", "plan"))).click()
    expect(plan).to_be_visible()
    expect(page.locator(_id(ids.site_tiles("HT")))).to_be_hidden()
    expect(page.locator(_id(ids.plan_toggle("HT", "plan")))).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(plan.locator("img.plan-image")).to_have_attribute("alt", "Site plan of Huating")
    # one pin per monitored HT device, where the pins file puts it
    expect(page.locator(f"#{ids.plan_pins('HT')} .pin")).to_have_count(63)
    # the tiles' states, ISA-101: grey when calm, colour only for an alarm
    pin = page.locator(_id(ids.pin("HT-PMP-001")))
    expect(pin).to_have_class("pin pin-ok")
    expect(page.locator(_id(ids.pin("HT-PDP-001")))).to_have_class(
        re.compile(r"\bpin-alarm-critical\b")
    )
    expect(page.locator(_id(ids.pin("HT-TNK-001")))).to_have_class(
        re.compile(r"\bpin-alarm-high\b")
    )
    expect(page.locator(_id(ids.pin("HT-PMP-002")))).to_have_class(re.compile(r"\bpin-bad\b"))
    expect(page.locator(_id(ids.pin("HT-PMP-003")))).to_have_class(re.compile(r"\bpin-nodata\b"))
    expect(pin).to_have_attribute("title", re.compile(r"^HT-PMP-001 .*\n4.21 bar · .* · online"))
    box = pin.bounding_box()
    frame = plan.locator(".plan-frame").bounding_box()
    assert box is not None
    assert frame is not None
    # HT-PMP-001 is at (180, 188) of the 1000 x 620 drawing
    assert abs(box["x"] + box["width"] / 2 - (frame["x"] + frame["width"] * 0.18)) < 3, box
    assert abs(box["y"] + box["height"] / 2 - (frame["y"] + frame["height"] * 188 / 620)) < 3

    # updated in place on the next tick: the same element, a new class
    page.evaluate(f"document.getElementById('{ids.pin('HT-PMP-001')}').dataset.mark = 'kept'")
    now = datetime.now(UTC)
    publish(served.broker, "HT-PMP-001", "PMP",
            {"discharge_pressure": (4.3, "bar"), "run_state": (1, "")}, now, comm_ok=False,
            seq=9)  # fmt: skip
    expect(pin).to_have_class("pin pin-bad")
    expect(pin).to_have_attribute("data-mark", "kept")

    # the choice is kept for the estate; a pin opens the asset page
    page.reload()
    expect(plan).to_be_visible()
    seed_bus(served.broker)
    expect(pin).to_have_class("pin pin-ok")
    pin.click()
    page.wait_for_url(served.url + "/asset/HT-PMP-001")
