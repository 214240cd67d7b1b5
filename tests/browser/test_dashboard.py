"""The dashboard in headless Chromium, over real servers: mosquitto (retained device
messages), influxd (two days of history) and a SQLite database (HT ledger, alarms, work
orders, one user per role), all written through the project's own APIs (dashboards.sample).
The tests sign in as the supervisor (who may see every page and acknowledge)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from dashboards import ids, wo_filters
from dashboards.app import DashboardServer
from dashboards.queries import Queries
from dashboards.sample import HISTORY_ASSET, seed_bus, seed_history, seed_sql, seed_users
from devtools.services import InfluxServer, MosquittoServer
from facility.config import DatabaseConfig, InfluxConfig, MqttConfig, Settings
from facility.mqtt import BrokerSettings, publish_once
from facility.payload import device_topic


@dataclass
class Dashboard:
    url: str
    alarm_ids: list[str]
    order_numbers: list[str]
    devices: list[str]
    users: dict[str, tuple[str, str]]  # role -> (name, password)


@pytest.fixture(scope="module")
def bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoServer]:
    """The dashboard's own broker: the session one holds retained device states that other
    tests' collectors left (a tile expected to say "no data yet" showed their value)."""
    from devtools.services import MosquittoServer as Server

    with Server(tmp_path_factory.mktemp("dashboard-bus")) as server:
        yield server


@pytest.fixture(scope="module")
def dashboard(
    tmp_path_factory: pytest.TempPathFactory, bus: MosquittoServer, influxd: InfluxServer
) -> Iterator[Dashboard]:
    """One dashboard server for the module, on a free port, over freshly seeded data."""
    database = f"dash_{uuid.uuid4().hex[:10]}"
    db_path: Path = tmp_path_factory.mktemp("dashboard") / "facility.db"
    settings = Settings(
        database=DatabaseConfig(url=f"sqlite:///{db_path}"),
        mqtt=MqttConfig(url=bus.url),
        influxdb=InfluxConfig(url=influxd.url, database=database),
    )
    alarm_ids, numbers = seed_sql(settings.database_url)
    users = seed_users(settings.database_url)
    seed_history(influxd.url, database)
    broker = BrokerSettings.from_url(bus.url)
    devices = seed_bus(broker)
    # no alarm engine runs here: an acknowledgement must say so within a second
    queries = Queries(settings, ack_timeout_s=1.0)
    server = DashboardServer(settings, "127.0.0.1", 0, queries=queries).start()
    try:
        yield Dashboard(server.url, alarm_ids, numbers, devices, users)
    finally:
        server.stop()
        for asset_no in devices:  # leave the session broker as we found it
            publish_once(broker, device_topic("HT", asset_no), b"", retain=True)
        influxd.drop_database(database)


def _id(component_id: str) -> str:
    return "#" + component_id


@pytest.fixture
def page(sign_in_as: Callable[..., Page], dashboard: Dashboard) -> Page:
    """A page signed in as the supervisor."""
    return sign_in_as(dashboard.url, dashboard.users["supervisor"])


def test_overview_shows_a_tile_per_published_device_with_its_value(
    page: Page, dashboard: Dashboard, bus: MosquittoServer
) -> None:
    # readings of now: tiles of readings older than a few polls say stale (issue 9)
    seed_bus(BrokerSettings.from_url(bus.url))
    started = time.perf_counter()
    page.goto(dashboard.url + "/")
    expect(page.locator(_id(ids.tile_value("HT-PMP-001")))).to_have_text("4.21 bar · running")
    print(f"overview ready in {time.perf_counter() - started:.2f} s")

    expect(page.locator(_id(ids.tile_value("HT-TNK-001")))).to_have_text("2.85 m · 71.3 %")
    expect(page.locator(_id(ids.tile_value("HT-FAP-001")))).to_have_text("normal")
    expect(page.locator(_id(ids.tile_value("HT-LGT-001")))).to_have_text("on · 2 lamps failed")
    # a device that lost communication says so, with a bad quality instead of a value
    expect(page.locator(_id(ids.tile_comm("HT-PMP-002")))).to_have_text("comm lost")
    expect(page.locator(_id(ids.tile("HT-PMP-002")))).to_have_class(re.compile("tile-bad"))
    # the alarm engine's state colours the tile: an unacknowledged critical dry-run
    expect(page.locator(_id(ids.tile("HT-PDP-001")))).to_have_class(
        re.compile("tile-alarm-critical")
    )
    # a monitored device that has not published yet is shown as such, not as a 0
    expect(page.locator(_id(ids.tile_value("HT-PMP-003")))).to_have_text("no data yet")
    expect(page.locator(_id(ids.LIVE_STATUS))).to_contain_text("connected")


def test_live_tiles_update_in_place_from_the_store(
    page: Page, dashboard: Dashboard, bus: MosquittoServer
) -> None:
    from datetime import UTC, datetime

    from dashboards.sample import device_message
    from facility.payload import encode

    page.goto(dashboard.url + "/")
    value = page.locator(_id(ids.tile_value("HT-TNK-001")))
    expect(value).to_have_text("2.85 m · 71.3 %")
    message = device_message("HT-TNK-001", 2, datetime.now(UTC))
    changed = type(message)(
        message.site, message.asset_no, message.device_class, 2, message.collected_ts,
        tuple(r if r.point != "level" else type(r)(
            r.site, r.asset_no, r.point, 1.5, r.unit, r.quality, None, r.collected_ts
        ) for r in message.readings),
        message.health,
    )  # fmt: skip
    broker = BrokerSettings.from_url(bus.url)
    publish_once(broker, device_topic("HT", "HT-TNK-001"), encode(changed), retain=True)
    try:
        expect(value).to_have_text("1.5 m · 71.3 %")  # next 2 s tick, without a reload
    finally:
        publish_once(broker, device_topic("HT", "HT-TNK-001"), encode(message), retain=True)


def test_alarm_console_lists_alarms_and_reports_a_missing_engine(
    page: Page, dashboard: Dashboard
) -> None:
    page.goto(dashboard.url + "/alarms")
    table = page.locator(_id(ids.ALARM_TABLE))
    for alarm_id in dashboard.alarm_ids:  # a row per alarm, named by asset and alarm text
        expect(table.locator(f'tr[data-alarm="{alarm_id}"]')).to_contain_text(alarm_id[:10])
    first_row = page.locator(_id(ids.CONSOLE_BODY)).locator("tr").first
    expect(first_row).to_contain_text("Drain pump dry-run trip")  # critical first
    expect(first_row).to_have_class(re.compile("prio-critical"))

    page.locator(_id(ids.ACK_BUTTON)).click()
    expect(page.locator(_id(ids.ACK_RESULT))).to_contain_text("Select one or more alarms first")

    first_row.locator("input[type=checkbox]").check()
    page.locator(_id(ids.ACK_COMMENT)).fill("on my way")  # a critical alarm needs one
    page.locator(_id(ids.ACK_BUTTON)).click()
    result = page.locator(_id(ids.ACK_RESULT))
    expect(result).to_contain_text("Failed · Acknowledge HT-PDP-001/dry_run")
    expect(result).to_contain_text("no alarm engine answered")


def test_work_order_list_and_detail_with_checklist(page: Page, dashboard: Dashboard) -> None:
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(dashboard.url + "/workorders")
    listing = page.locator(_id(ids.WO_LIST))
    for number in dashboard.order_numbers:
        expect(listing).to_contain_text(number)
    expect(listing).to_contain_text("Drain pump dry-run trip")

    listing.get_by_text(dashboard.order_numbers[0]).click()
    detail = page.locator(_id(ids.WO_DETAIL))
    expect(detail).to_contain_text(dashboard.order_numbers[0])
    expect(detail).to_contain_text("Checklist")


def test_work_order_counts_are_filters_kept_in_the_link(page: Page, dashboard: Dashboard) -> None:
    """Session 6, the demo as a supervisor saw it: 77 open orders in one phone-width column
    and no way to find the overdue or the critical ones. Counts per priority, overdue and
    unassigned are links that filter the list (``/workorders?priority=critical``)."""
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(dashboard.url + "/workorders")
    cards = page.locator(_id(ids.WO_LIST)).locator(".wo-card")
    expect(cards).to_have_count(len(dashboard.order_numbers))
    critical = page.locator(_id(ids.wo_filter("priority", "critical")))
    expect(critical).to_have_text("Critical 1")
    expect(page.locator(_id(ids.wo_filter("priority", "medium")))).to_have_text("Medium 1")
    expect(page.locator(_id(ids.wo_filter("due", "overdue")))).to_have_text("overdue 0")
    critical.click()
    page.wait_for_url(f"{dashboard.url}/workorders?priority=critical")
    expect(cards).to_have_count(1)
    expect(cards).to_contain_text("Drain pump dry-run trip")
    expect(page.locator("h1")).to_have_text("Open work orders · 1")
    expect(critical).to_have_class("wo-chip wo-chip-on")
    critical.click()  # on again: off
    page.wait_for_url(f"{dashboard.url}/workorders")
    expect(cards).to_have_count(len(dashboard.order_numbers))


def test_a_long_work_order_list_comes_in_pages_with_the_filters_kept(
    page: Page, dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paging (``&page=2``), with one card to a page so the two seeded (unassigned) orders
    make two pages: an estate with hundreds of open orders got them all on one page."""
    monkeypatch.setattr(wo_filters, "PAGE_SIZE", 1)
    assert len(dashboard.order_numbers) == 2
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(dashboard.url + "/workorders")
    cards = page.locator(_id(ids.WO_LIST)).locator(".wo-card")
    numbers = cards.locator(".wo-number")
    expect(cards).to_have_count(1)
    expect(page.locator("h1")).to_have_text("Open work orders · 2")  # all, not the page
    expect(page.locator(_id(ids.wo_page("range", "top")))).to_have_text("1–1 of 2")
    expect(page.locator(_id(ids.wo_page("prev", "top")))).to_have_count(0)
    first = numbers.inner_text()
    page.locator(_id(ids.wo_page("next", "bottom"))).click()
    page.wait_for_url(f"{dashboard.url}/workorders?page=2")
    expect(page.locator(_id(ids.wo_page("range", "bottom")))).to_have_text("2–2 of 2")
    expect(page.locator(_id(ids.wo_page("next", "top")))).to_have_count(0)
    expect(numbers).not_to_have_text(first)
    assert {first, numbers.inner_text()} == set(dashboard.order_numbers)
    # a filter chosen on page 2 starts at its first page; the pager keeps the filter
    page.locator(_id(ids.wo_filter("who", "unassigned"))).click()
    page.wait_for_url(f"{dashboard.url}/workorders?who=unassigned")
    expect(numbers).to_have_text(first)
    page.locator(_id(ids.wo_page("next", "top"))).click()
    page.wait_for_url(f"{dashboard.url}/workorders?page=2&who=unassigned")
    page.locator(_id(ids.wo_page("prev", "top"))).click()
    page.wait_for_url(f"{dashboard.url}/workorders?who=unassigned")
    page.goto(dashboard.url + "/workorders?page=99")  # an old bookmark: the last page
    expect(page.locator(_id(ids.wo_page("range", "top")))).to_have_text("2–2 of 2")


def test_asset_page_charts_history_and_shows_the_timeline(page: Page, dashboard: Dashboard) -> None:
    started = time.perf_counter()
    page.goto(f"{dashboard.url}/asset/{HISTORY_ASSET}")
    graph = page.locator(_id(ids.HISTORY_GRAPH))
    expect(graph.locator(".scatterlayer .trace").first).to_be_attached()
    note = page.locator(_id(ids.HISTORY_NOTE))
    expect(note).to_contain_text("1m data")  # 24 h is read from the 1-minute aggregates
    print(f"asset chart ready in {time.perf_counter() - started:.2f} s; {note.text_content()}")
    count = int((note.text_content() or "0").split(" ")[0])
    assert 1300 <= count <= 1500  # about one point per minute of the last 24 h

    page.get_by_label("7 d").check()
    expect(note).to_contain_text("buckets")
    expect(page.locator(_id(ids.HISTORY_BANNER))).to_be_empty()


def test_asset_timeline_lists_the_work_order(page: Page, dashboard: Dashboard) -> None:
    page.goto(f"{dashboard.url}/asset/HT-PDP-001")
    timeline = page.locator(_id(ids.TIMELINE))
    expect(timeline).to_contain_text(dashboard.order_numbers[0])
    expect(timeline).to_contain_text("HT-PDP-001/dry_run")  # the alarm's journal entry


def test_kpi_page_reports_each_site_against_the_target(page: Page, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/kpi")
    kpis = page.locator(_id(ids.KPI_TABLE))
    expect(kpis).to_contain_text("Huating (HT)")
    expect(page.get_by_text("Repair timeliness target: 90%")).to_be_visible()


def test_language_toggle_switches_labels_to_chinese_and_back(
    page: Page, dashboard: Dashboard
) -> None:
    page.goto(dashboard.url + "/")
    nav = page.locator(_id(ids.nav_link("overview")))
    expect(nav).to_have_text("Overview")
    page.locator(_id(ids.LANG_TOGGLE)).click()
    expect(nav).to_have_text("总览")
    expect(page.locator("h1")).to_have_text("实时状态")
    expect(page.get_by_text("华庭 (HT)")).to_be_visible()
    # the choice is kept in the browser: another page opens in Chinese
    page.goto(dashboard.url + "/alarms")
    expect(page.locator("h1")).to_have_text("当前报警")
    page.locator(_id(ids.LANG_TOGGLE)).click()
    expect(page.locator("h1")).to_have_text("Active alarms")
