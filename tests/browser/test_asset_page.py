"""The asset page above its trend (issue 12, "Asset page"), in headless Chromium over real
servers (mosquitto, influxd, SQLite): the ledger record of a known sample asset, its live
values changed in place when a new retained message arrives (the same DOM nodes), stale and
lost-communication points in the tiles' greys, its open orders linked to their pages (and
nothing of another estate for a technician scoped to Ju), the QR label holding the page's
address with a printable label, and no horizontal overflow on a 390 px phone."""

from __future__ import annotations

import base64
import re
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
from dashboards.sample import seed_bus, seed_other_estate, seed_sql, seed_users
from devtools.services import InfluxServer, MosquittoServer
from facility.config import DatabaseConfig, InfluxConfig, MqttConfig, Settings
from facility.mqtt import BrokerSettings, publish_once
from facility.payload import DeviceMessage, device_topic, encode
from facility.types import Quality, Reading

PUMP = "HT-PMP-001"  # seeded on the bus: discharge pressure 4.21 bar, running, 42.5 Hz
SILENT_PUMP = "HT-PMP-003"  # its only message is ten minutes old: stale
DRAIN = "HT-PDP-001"  # has an open corrective order (dry-run trip)


@dataclass
class Served:
    url: str
    users: dict[str, tuple[str, str]]
    orders: list[str]  # HT's open orders (HT-PDP-001's first)
    ju_order: str
    broker: BrokerSettings


def _id(component: str) -> str:
    return "#" + component


def _publish(broker: BrokerSettings, asset_no: str, point: str, value: float, unit: str,
             at: datetime) -> None:  # fmt: skip
    reading = Reading("HT", asset_no, point, value, unit, Quality.GOOD, None, at)
    message = DeviceMessage("HT", asset_no, "PMP", 2, at, (reading,), {"comm_ok": True})
    publish_once(broker, device_topic("HT", asset_no), encode(message), retain=True)


@pytest.fixture(scope="module")
def bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoServer]:
    """A broker of the module's own (as tests/browser/test_dashboard.py does)."""
    with MosquittoServer(tmp_path_factory.mktemp("asset-bus")) as server:
        yield server


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, bus: MosquittoServer, influxd: InfluxServer
) -> Iterator[Served]:
    database = f"asset_{uuid.uuid4().hex[:10]}"
    db_path: Path = tmp_path_factory.mktemp("asset") / "facility.db"
    settings = Settings(
        database=DatabaseConfig(url=f"sqlite:///{db_path}"),
        mqtt=MqttConfig(url=bus.url),
        influxdb=InfluxConfig(url=influxd.url, database=database),
    )
    _alarms, numbers = seed_sql(settings.database_url)
    ju_order = seed_other_estate(settings.database_url)
    users = seed_users(settings.database_url)
    broker = BrokerSettings.from_url(bus.url)
    seed_bus(broker)
    _publish(broker, SILENT_PUMP, "discharge_pressure", 3.9, "bar",
             datetime.now(UTC) - timedelta(minutes=10))  # fmt: skip
    server = DashboardServer(settings, "127.0.0.1", 0, queries=Queries(settings)).start()
    try:
        yield Served(server.url, users, numbers, ju_order, broker)
    finally:
        server.stop()


def test_the_ledger_record_of_a_sample_asset_is_shown_with_its_qr_label(
    sign_in_as: Callable[..., Page], served: Served
) -> None:
    page = sign_in_as(served.url, served.users["supervisor"], f"/asset/{PUMP}")
    record = page.locator(_id(ids.ASSET_RECORD))
    # maintenance/demo/HT.csv: the duty pump of building 1
    for text in ("HT-PMP-001", "Building 1 domestic booster pump 1# (duty)", "Booster pump",
                 "Xylem Lowara", "e-SV 10SV06 + Hydrovar HVL 3.075", "LW210531538",
                 "2021-12-23", "B1 / Pump room", "Water supply", "High", "In service"):  # fmt: skip
        expect(record).to_contain_text(text)
    qr = page.locator(_id(ids.ASSET_QR))
    expect(qr).to_have_attribute("data-qr-text", f"{served.url}/asset/{PUMP}")
    expect(qr.locator(".qr-number")).to_have_text(PUMP)
    src = qr.locator("img").get_attribute("src") or ""
    assert src.startswith("data:image/svg+xml;base64,"), src[:60]
    svg = base64.b64decode(src.split(",", 1)[1]).decode()
    assert svg.startswith("<svg"), svg[:200]
    assert '<path d="M' in svg, svg[:200]
    # the printable label: a PDF of this asset's label
    href = page.locator(_id(ids.ASSET_LABEL_LINK)).get_attribute("href")
    assert href == f"/labels/{PUMP}.pdf"
    response = page.request.get(served.url + href)
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")


def test_in_chinese_the_record_says_its_words_in_chinese(
    sign_in_as: Callable[..., Page], served: Served
) -> None:
    page = sign_in_as(served.url, served.users["supervisor"], "/")
    page.locator(_id(ids.LANG_TOGGLE)).click()
    expect(page.locator("h1")).to_have_text("实时状态")
    page.goto(f"{served.url}/asset/{PUMP}")
    record = page.locator(_id(ids.ASSET_RECORD))
    for text in ("设备台账", "1栋生活水泵1#(主用)", "生活水泵", "给水系统", "在用", "出厂编号"):
        expect(record).to_contain_text(text)
    expect(page.locator(_id(ids.ASSET_LIVE))).to_contain_text("出水压力")


def test_live_values_change_in_place_when_a_new_retained_message_arrives(
    sign_in_as: Callable[..., Page], served: Served
) -> None:
    seed_bus(served.broker)  # readings of now: older ones are stale
    page = sign_in_as(served.url, served.users["supervisor"], f"/asset/{PUMP}")
    value = page.locator(_id(ids.asset_live_cell("discharge_pressure", "value")))
    row = page.locator(_id(ids.asset_live_cell("discharge_pressure", "row")))
    expect(value).to_have_text("4.21 bar")
    expect(row).to_have_class(re.compile(r"\btile-ok\b"))
    expect(page.locator(_id(ids.asset_live_cell("discharge_pressure", "quality")))).to_have_text(
        "good"
    )
    expect(page.locator(_id(ids.asset_live_cell("discharge_pressure", "age")))).to_contain_text(
        " s ago"
    )
    # a point the device never sent is "no data", not 0
    expect(page.locator(_id(ids.asset_live_cell("motor_temp", "row")))).to_have_class(
        re.compile(r"\btile-nodata\b")
    )
    value.evaluate("el => { el.__kept = true; el.parentElement.__kept = true; }")
    rendered = page.locator(_id(ids.ASSET_LIVE_RENDERED))
    ticks = rendered.get_attribute("title")
    _publish(served.broker, PUMP, "discharge_pressure", 5.55, "bar", datetime.now(UTC))
    expect(value).to_have_text("5.55 bar")
    # the same nodes, written in place: the table was not rebuilt
    assert value.evaluate("el => el.__kept === true && el.parentElement.__kept === true")
    expect(rendered).not_to_have_attribute("title", ticks or "")  # the renderer ran
    expect(page.locator(_id(ids.asset_live_cell("frequency", "value")))).to_have_text("42.5 Hz")


def test_stale_and_lost_communication_points_are_grey_as_the_tiles_are(
    sign_in_as: Callable[..., Page], served: Served
) -> None:
    page = sign_in_as(served.url, served.users["supervisor"], f"/asset/{SILENT_PUMP}")
    row = page.locator(_id(ids.asset_live_cell("discharge_pressure", "row")))
    expect(row).to_have_class(re.compile(r"\btile-stale\b"))
    expect(page.locator(_id(ids.asset_live_cell("discharge_pressure", "age")))).to_have_text(
        "10 min ago"
    )
    page.goto(f"{served.url}/asset/HT-PMP-002")  # the sample's pump with comm lost
    expect(page.locator(_id(ids.asset_live_cell("discharge_pressure", "row")))).to_have_class(
        re.compile(r"\btile-bad\b")
    )
    expect(page.locator(_id(ids.asset_live_cell("discharge_pressure", "quality")))).to_have_text(
        "no comm"
    )


def test_open_orders_link_to_their_order_and_phone_pages(
    sign_in_as: Callable[..., Page], served: Served
) -> None:
    page = sign_in_as(served.url, served.users["supervisor"], f"/asset/{DRAIN}")
    orders = page.locator(_id(ids.ASSET_ORDERS))
    number = served.orders[0]
    link = orders.get_by_role("link", name=number)
    expect(link).to_have_attribute("href", f"/workorders?number={number}")
    expect(orders.locator(f'a[href="/m/order/{number}"]')).to_have_count(1)
    for text in ("Corrective", "Critical", "Open"):
        expect(orders).to_contain_text(text)
    assert served.orders[1] not in (orders.text_content() or "")  # another asset's order
    link.click()
    expect(page.locator(_id(ids.WO_DETAIL))).to_contain_text("Drain pump dry-run trip")


def test_a_technician_of_ju_sees_ju_orders_and_nothing_of_an_ht_asset(
    sign_in_as: Callable[..., Page], served: Served
) -> None:
    page = sign_in_as(served.url, served.users["technician"], "/asset/JU-PMP-001")
    expect(page.locator(_id(ids.ASSET_ORDERS))).to_contain_text(served.ju_order)
    expect(page.locator(_id(ids.ASSET_RECORD))).to_contain_text("JU-PMP-001")
    page.goto(f"{served.url}/asset/{DRAIN}")
    expect(page.locator(_id(ids.HISTORY_BANNER))).to_contain_text("not in your estates")
    body = page.locator("main").text_content() or ""
    assert served.orders[0] not in body
    assert "Xylem" not in body
    expect(page.locator(_id(ids.ASSET_QR))).to_have_count(0)
    # the printable label answers as if the asset did not exist
    assert page.request.get(f"{served.url}/labels/{DRAIN}.pdf").status == 404


def test_phone_width_does_not_overflow(sign_in_as: Callable[..., Page], served: Served) -> None:
    page = sign_in_as(served.url, served.users["supervisor"], f"/asset/{DRAIN}")
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.locator(_id(ids.ASSET_ORDERS))).to_contain_text(served.orders[0])
    expect(page.locator(_id(ids.ASSET_QR))).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the asset page is {width} px wide in a 390 px screen"
