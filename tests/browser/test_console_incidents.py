"""Incidents in the alarm console (issue 12): the alarms the engine groups — a pump's drive
trips, its discharge pressure falls, the tank it draws from runs low and very low — are ONE
row: the first-out's text and asset, the highest priority of the members, "+3 related" and
the first raised time; a click opens it to the member rows and closes it again; what is open
survives the ticks; filters and sort take the incident as a whole; ticking it acknowledges
every member under the bulk rules (a critical member needs a comment).

Everything is real: the incident comes from the alarm engine (gateway.alarms.service) fed
device messages through a real mosquitto, writing the journal and states to SQLite, read by
the dashboard in headless Chromium. Before the change the console listed four loose rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from dashboards import ids
from dashboards.app import DashboardServer
from dashboards.queries import Queries
from dashboards.sample import seed_sql, seed_users
from devtools.services import MosquittoServer
from facility.config import DatabaseConfig, MqttConfig, Settings
from facility.mqtt import BrokerSettings, publish_once
from facility.payload import DeviceMessage, device_topic, encode
from facility.types import PointValue, Quality, Reading
from gateway.alarms.state import EventKind
from gateway.alarms.store import AlarmStore
from tests.browser.alarm_engine import Engine

PUMP, TANK = "HT-PMP-001", "HT-TNK-002"
TRIP = f"{PUMP}/drive_fault"  # the first-out (high)
PRESSURE = f"{PUMP}/pressure_low"  # high
LOLO = f"{TANK}/level_lolo"  # critical: the incident's priority
LOW_LEVEL = f"{TANK}/level_low"  # medium
MEMBERS = (TRIP, PRESSURE, LOLO, LOW_LEVEL)
SEEDED_CRITICAL = "HT-PDP-001/dry_run"  # seeded by dashboards.sample, on its own
SEEDED_LOW = "HT-LGT-001/lamp_failures"
# the profiles' on-delays (10-30 s) shortened, as a site's alarms.yaml may do
ALARM_FILE = """\
overrides:
  - {assets: [HT-PMP-001], alarm: pressure_low, on_delay_s: 0}
  - {assets: [HT-TNK-002], alarm: level_lolo, on_delay_s: 0}
  - {assets: [HT-TNK-002], alarm: level_low, on_delay_s: 0}
"""


@dataclass
class Served:
    url: str
    users: dict[str, tuple[str, str]]
    incident: str  # the engine's incident id


def _message(asset_no: str, seq: int, points: dict[str, tuple[PointValue, str]]) -> bytes:
    at = datetime.now(UTC)
    device_class = asset_no.split("-")[1]
    readings = tuple(
        Reading("HT", asset_no, name, value, unit, Quality.GOOD, None, at)
        for name, (value, unit) in points.items()
    )
    return encode(DeviceMessage("HT", asset_no, device_class, seq, at, readings,
                                {"comm_ok": True}))  # fmt: skip


def _raised(store: AlarmStore, alarm_ids: tuple[str, ...], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        saved = {a.alarm_id for a in store.current() if a.status.active}
        if set(alarm_ids) <= saved:
            return
        time.sleep(0.1)
    raise AssertionError(f"the engine did not raise {alarm_ids} within {within} s")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    db_path: Path = tmp_path_factory.mktemp("incidents") / "facility.db"
    with MosquittoServer(tmp_path_factory.mktemp("incidents-bus")) as bus:
        settings = Settings(
            database=DatabaseConfig(url=f"sqlite:///{db_path}"), mqtt=MqttConfig(url=bus.url)
        )
        seed_sql(settings.database_url)
        users = seed_users(settings.database_url)
        broker = BrokerSettings.from_url(bus.url)
        engine = Engine(settings.database_url, bus.url, {PUMP, TANK}, alarm_file=ALARM_FILE,
                        stale_after_s=3600.0)  # fmt: skip
        with engine, AlarmStore(settings.database_url) as store:
            # the drive trips first (the first-out), then the pressure falls, then the tank
            pump = {"run_state": (0, ""), "fault_code": (3, ""), "discharge_pressure": (4.2, "bar")}
            publish_once(broker, device_topic("HT", PUMP), _message(PUMP, 1, pump))
            _raised(store, (TRIP,))
            pump["discharge_pressure"] = (0.4, "bar")
            publish_once(broker, device_topic("HT", PUMP), _message(PUMP, 2, pump))
            _raised(store, (TRIP, PRESSURE))
            tank = {"level": (0.2, "m"), "volume_pct": (5.0, "%")}
            publish_once(broker, device_topic("HT", TANK), _message(TANK, 1, tank))
            _raised(store, MEMBERS)
            announced = store.journal(events=(EventKind.INCIDENT,))
            assert announced, "the engine announced no incident"
            incident = str(announced[-1].detail["incident"])
            queries = Queries(settings, ack_timeout_s=5.0)
            server = DashboardServer(settings, "127.0.0.1", 0, queries=queries, threads=4)
            server.start()
            try:
                yield Served(server.url, users, incident)
            finally:
                server.stop()


@pytest.fixture
def as_role(sign_in_as: Callable[..., Page], served: Served) -> Callable[[str], Page]:
    def signed(role: str) -> Page:
        return sign_in_as(served.url, served.users[role], "/alarms")

    return signed


def _id(component_id: str) -> str:
    return "#" + component_id


def incident_row(page: Page, served: Served) -> Locator:
    return page.locator(f'tr[data-incident="{served.incident}|standing"]')


def row(page: Page, alarm_id: str) -> Locator:
    return page.locator(f'tr[data-alarm="{alarm_id}"]')


def shown(page: Page) -> Locator:
    return page.locator(_id(ids.CONSOLE_BODY)).locator("tr:not([hidden])")


def test_an_incident_is_one_row_that_opens_and_closes_and_stays_open_across_ticks(
    as_role: Callable[[str], Page], served: Served
) -> None:
    page = as_role("viewer")
    incident = incident_row(page, served)
    expect(incident).to_be_visible()
    expect(incident).to_contain_text("Drive fault")  # the first-out's text ...
    expect(incident).to_contain_text(PUMP)  # ... and asset
    expect(incident).to_contain_text("Critical")  # the highest priority of the members
    expect(incident).to_contain_text("+3 related")
    expect(incident).to_contain_text("0 of 4 acknowledged")
    # one row for the incident beside the seeded alarms (3), its members hidden
    expect(shown(page)).to_have_count(4)
    for alarm_id in MEMBERS:
        expect(row(page, alarm_id)).to_be_hidden()
    page.evaluate(
        f"document.querySelector('tr[data-incident=\"{served.incident}|standing\"]')"
        ".dataset.mark = 'kept'"
    )
    incident.locator(".col-raised").click()  # anywhere on the row opens it
    for alarm_id in MEMBERS:
        expect(row(page, alarm_id)).to_be_visible()
    expect(incident.locator(".incident-toggle")).to_have_attribute("aria-expanded", "true")
    # the members follow their incident: the first-out (marked), then most urgent first
    order = page.locator(f"{_id(ids.CONSOLE_BODY)} tr:not([hidden])").evaluate_all(
        "rows => rows.map(r => r.dataset.incident ? 'incident' : r.dataset.alarm)"
    )
    start = order.index("incident")
    assert order[start : start + 5] == ["incident", TRIP, LOLO, PRESSURE, LOW_LEVEL], order
    expect(row(page, TRIP)).to_contain_text("first out")
    expect(row(page, PRESSURE)).not_to_contain_text("first out")
    page.wait_for_timeout(4500)  # two ticks of the console (a guard, not an assertion)
    for alarm_id in MEMBERS:  # still open, and the same row element: patched, not rebuilt
        expect(row(page, alarm_id)).to_be_visible()
    expect(incident).to_have_attribute("data-mark", "kept")
    incident.locator(".incident-toggle").click()  # and closed again
    for alarm_id in MEMBERS:
        expect(row(page, alarm_id)).to_be_hidden()
    expect(incident.locator(".incident-toggle")).to_have_attribute("aria-expanded", "false")


def test_chinese_incident_row(as_role: Callable[[str], Page], served: Served) -> None:
    page = as_role("viewer")
    page.locator(_id(ids.LANG_TOGGLE)).click()
    incident = incident_row(page, served)
    expect(incident).to_contain_text("变频器故障")
    expect(incident).to_contain_text("+3 条关联报警")
    expect(incident).to_contain_text("紧急")
    page.locator(_id(ids.LANG_TOGGLE)).click()


def test_filters_and_sort_take_the_incident_as_a_whole(
    as_role: Callable[[str], Page], served: Served
) -> None:
    page = as_role("viewer")
    incident = incident_row(page, served)
    expect(incident).to_be_visible()
    # a medium member is enough for the incident to match "Medium"
    page.locator(_id(ids.FILTER_PRIORITY)).click()
    page.get_by_role("option", name="Medium").click()
    page.keyboard.press("Escape")
    expect(incident).to_be_visible()
    expect(row(page, SEEDED_CRITICAL)).to_be_hidden()
    page.locator(".dash-dropdown-clear").first.click()
    # a search that matches one member's text (the tank's name) shows the incident
    page.locator(_id(ids.CONSOLE_SEARCH)).fill("tank 2#")
    expect(incident).to_be_visible()
    expect(shown(page)).to_have_count(1)
    page.locator(_id(ids.CONSOLE_SEARCH)).fill("lamps")  # and none of theirs hides it
    expect(incident).to_be_hidden()
    expect(row(page, SEEDED_LOW)).to_be_visible()
    page.locator(_id(ids.CONSOLE_SEARCH)).fill("")
    # newest first: the incident (raised now) goes before alarms raised minutes ago
    page.locator(_id(ids.SORT_SELECT)).click()
    page.get_by_role("option", name="Sort: newest first").click()
    expect(shown(page).first).to_have_attribute("data-incident", f"{served.incident}|standing")
    # by priority: the critical incident and the critical seeded alarm come first
    page.locator(_id(ids.SORT_SELECT)).click()
    page.get_by_role("option", name="Sort: priority").click()
    first_two = shown(page).evaluate_all(
        "rows => rows.slice(0, 2).map(r => r.dataset.incident ? 'incident' : r.dataset.alarm)"
    )
    assert sorted(first_two) == sorted(["incident", SEEDED_CRITICAL]), first_two


def test_acknowledging_the_incident_acknowledges_every_member_with_the_bulk_rules(
    as_role: Callable[[str], Page], served: Served
) -> None:
    page = as_role("supervisor")
    incident = incident_row(page, served)
    incident.locator("input[type=checkbox]").check()
    expect(page.locator(_id(ids.CONSOLE_COUNT))).to_have_text("4")  # every member
    page.locator(_id(ids.ACK_BUTTON)).click()
    result = page.locator(_id(ids.ACK_RESULT))
    # a critical member: the comment rule of bulk acknowledge applies
    expect(result).to_contain_text("A comment is required to acknowledge a critical alarm")
    expect(result).to_contain_text(LOLO)
    page.locator(_id(ids.ACK_COMMENT)).fill("pump room: drive reset, tank refilling")
    page.locator(_id(ids.ACK_BUTTON)).click()
    expect(result).to_contain_text("Done", timeout=15_000)
    expect(result).not_to_contain_text("Failed")
    expect(incident).to_contain_text("4 of 4 acknowledged", timeout=10_000)
    expect(incident).to_contain_text("Active, acknowledged")
    incident.locator(".incident-toggle").click()
    supervisor = served.users["supervisor"][0]
    for alarm_id in MEMBERS:
        expect(row(page, alarm_id)).to_contain_text(supervisor)
        expect(row(page, alarm_id)).to_contain_text("drive reset, tank refilling")
