"""Trends on the asset page in headless Chromium (issue 12, part 2), over real servers:
influxd holds two days of HT-PMP-001's discharge pressure (varying) and output frequency (a
constant 50.2 Hz, which Plotly once labelled ``50.1999999999999886``), the SQL journal holds
one raise of the pump's low-pressure alarm. Two points go on one chart, with the profile's
limit lines and the raise as a marker, and a work order of the pump as a marker; in 中文 the
date axis carries no English. The live tail appends the readings the bus brings to the chart
in place (no redraw) and keeps its right edge at now."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from dashboards import ids
from dashboards.app import DashboardServer
from dashboards.queries import Queries
from dashboards.sample import HISTORY_ASSET, seed_history, seed_sql, seed_users
from devtools.services import InfluxServer, MosquittoServer
from facility.config import DatabaseConfig, InfluxConfig, MqttConfig, Settings
from facility.mqtt import BrokerSettings, publish_once
from facility.payload import DeviceMessage, device_topic, encode
from facility.types import Quality, Reading
from gateway.alarms.journal import AlarmRecord
from gateway.alarms.state import AlarmState, EventKind
from gateway.alarms.store import AlarmStore
from gateway.history import MINUTE_MS
from gateway.influx import InfluxClient
from gateway.lineproto import LineEncoder
from gateway.retention import RetentionPlan, backfill
from maintenance.wo_store import LogNotifier, WorkOrderStore

FREQUENCY = 50.2  # a constant value: its ticks must read 50.2, not 50.1999999999999886


@dataclass
class Served:
    url: str
    users: dict[str, tuple[str, str]]
    order: str = ""  # a work order of HISTORY_ASSET, created now
    broker: BrokerSettings | None = None


def _seed_frequency(influx_url: str, database: str, hours: int = 48) -> None:
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    end = now_ms - now_ms % MINUTE_MS
    start = end - hours * 60 * MINUTE_MS
    client = InfluxClient(influx_url, database)
    try:
        encoder = LineEncoder()
        lines = []
        for i, ts in enumerate(range(start, end, MINUTE_MS)):
            at = datetime.fromtimestamp(ts / 1000, tz=UTC)
            reading = Reading("HT", HISTORY_ASSET, "frequency", FREQUENCY, "Hz", Quality.GOOD,
                              None, at)  # fmt: skip
            message = DeviceMessage("HT", HISTORY_ASSET, "PMP", i + 1, at, (reading,), {})
            lines.append(encoder.encode(message))
        for lo in range(0, len(lines), 2000):
            client.write(b"".join(lines[lo : lo + 2000]))
        backfill(client, RetentionPlan(), start, end)
    finally:
        client.close()


@pytest.fixture(scope="module")
def bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoServer]:
    """A broker of the module's own (as tests/browser/test_dashboard.py does)."""
    with MosquittoServer(tmp_path_factory.mktemp("trends-bus")) as server:
        yield server


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, bus: MosquittoServer, influxd: InfluxServer
) -> Iterator[Served]:
    database = f"trend_{uuid.uuid4().hex[:10]}"
    db_path: Path = tmp_path_factory.mktemp("trends") / "facility.db"
    settings = Settings(
        database=DatabaseConfig(url=f"sqlite:///{db_path}"),
        mqtt=MqttConfig(url=bus.url),
        influxdb=InfluxConfig(url=influxd.url, database=database),
    )
    seed_sql(settings.database_url)
    users = seed_users(settings.database_url)
    seed_history(influxd.url, database)
    _seed_frequency(influxd.url, database)
    raised = datetime.now(UTC) - timedelta(hours=3)
    with AlarmStore(settings.database_url) as alarms:
        alarms.write([AlarmRecord(raised, f"{HISTORY_ASSET}/pressure_low", "HT", HISTORY_ASSET,
                                  "pressure_low", EventKind.RAISE, AlarmState.NORMAL,
                                  AlarmState.UNACK, "high", 1.2)])  # fmt: skip
    with WorkOrderStore(settings.database_url, notifier=LogNotifier()) as orders:
        order = orders.raise_corrective(
            HISTORY_ASSET,
            "drive_fault",
            title_en="Booster pump drive fault",
            title_zh="生活水泵变频器故障",
            priority="high",
        ).order.number
    queries = Queries(settings, ack_timeout_s=1.0)
    server = DashboardServer(settings, "127.0.0.1", 0, queries=queries).start()
    try:
        yield Served(server.url, users, order, BrokerSettings.from_url(bus.url))
    finally:
        server.stop()
        influxd.drop_database(database)


def _add_frequency(page: Page, label: str) -> None:
    page.locator("#" + ids.POINT_SELECT).click()
    page.get_by_role("option", name=label).click()
    page.keyboard.press("Escape")


def test_two_points_on_one_chart_with_limit_lines_and_an_alarm_marker(
    sign_in_as: Callable[..., Page], served: Served
) -> None:
    page = sign_in_as(served.url, served.users["supervisor"], f"/asset/{HISTORY_ASSET}")
    graph = page.locator("#" + ids.HISTORY_GRAPH)
    legend = graph.locator(".legend")
    expect(legend).to_contain_text("Discharge pressure (bar)")
    _add_frequency(page, "Output frequency (Hz)")
    expect(legend).to_contain_text("Output frequency (Hz)")
    expect(legend).to_contain_text("Discharge pressure (bar)")  # both on one chart
    # the profile's limits on discharge pressure: lo 1.5 bar and hi 10 bar
    expect(legend).to_contain_text("LO 1.5 · Discharge pressure")
    expect(legend).to_contain_text("HI 10 · Discharge pressure")
    expect(legend).to_contain_text("Alarms raised")
    note = page.locator("#" + ids.HISTORY_NOTE)
    expect(note).to_contain_text("; ")  # one resolution per point, chosen by the historian
    ticks = graph.locator(".y2tick text").all_text_contents()
    assert "50.2" in ticks, ticks  # a constant value gets a readable axis around it
    assert not [t for t in ticks if len(t) > 8], ticks


def test_in_chinese_the_chart_says_its_dates_and_labels_in_chinese(
    sign_in_as: Callable[..., Page], served: Served
) -> None:
    page = sign_in_as(served.url, served.users["supervisor"], "/")
    page.locator("#" + ids.LANG_TOGGLE).click()
    expect(page.locator("h1")).to_have_text("实时状态")
    page.goto(f"{served.url}/asset/{HISTORY_ASSET}")
    graph = page.locator("#" + ids.HISTORY_GRAPH)
    expect(graph.locator(".legend")).to_contain_text("出水压力 (bar)")
    expect(graph.locator(".legend")).to_contain_text("报警发生")
    ticks = " ".join(graph.locator(".xtick text").all_text_contents())
    assert "月" in ticks, ticks
    for month in ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                  "Dec"):  # fmt: skip
        assert month not in ticks, ticks


TRACES = "Array.from(document.querySelector('#history-graph .js-plotly-plot').data)"


def test_work_orders_of_the_asset_are_markers_with_number_and_title(
    sign_in_as: Callable[..., Page], served: Served
) -> None:
    page = sign_in_as(served.url, served.users["supervisor"], f"/asset/{HISTORY_ASSET}")
    graph = page.locator("#" + ids.HISTORY_GRAPH)
    expect(graph.locator(".legend")).to_contain_text("Work orders", timeout=20_000)
    texts = page.evaluate(f"{TRACES}.find((t) => t.name === 'Work orders').text")
    assert texts == [f"{served.order} · Booster pump drive fault (created)"], texts


def test_live_tail_appends_new_readings_in_place_at_now(
    sign_in_as: Callable[..., Page], served: Served
) -> None:
    page = sign_in_as(served.url, served.users["supervisor"], f"/asset/{HISTORY_ASSET}")
    graph = page.locator("#" + ids.HISTORY_GRAPH)
    # the first chart of a module waits for plotly.js and the first InfluxDB query
    expect(graph.locator(".legend")).to_contain_text("Discharge pressure (bar)", timeout=20_000)
    pressure = f"{TRACES}.find((t) => t.meta === 'discharge_pressure')"
    before = page.evaluate(f"{pressure}.y.length")
    page.evaluate(f"{TRACES}.forEach((t) => {{ t.__kept = true; }})")
    page.locator("#" + ids.TREND_LIVE).get_by_text("Live").click()
    assert served.broker is not None
    for value in (7.77, 7.78):
        at = datetime.now(UTC)
        reading = Reading("HT", HISTORY_ASSET, "discharge_pressure", value, "bar", Quality.GOOD,
                          None, at)  # fmt: skip
        message = DeviceMessage("HT", HISTORY_ASSET, "PMP", 1, at, (reading,), {"comm_ok": True})
        publish_once(served.broker, device_topic("HT", HISTORY_ASSET), encode(message), retain=True)
        page.wait_for_function(f"{pressure}.y[{pressure}.y.length - 1] === {value}")
    # appended, once each, to the same trace objects: the figure was not redrawn
    assert page.evaluate(f"{pressure}.y.length") == before + 2
    assert page.evaluate(f"{TRACES}.every((t) => t.__kept === true)")
    # the right edge is at now (the newest reading), within a tick
    gap_ms = page.evaluate(
        "(() => { const gd = document.querySelector('#history-graph .js-plotly-plot');"
        " const ms = (s) => Date.parse(String(s).replace(' ', 'T') + 'Z');"
        f" const x = {pressure}.x;"
        " return ms(gd.layout.xaxis.range[1]) - ms(x[x.length - 1]); })()"
    )
    assert 0 <= gap_ms < 5000, gap_ms
