"""The real chain in headless Chromium (issue 12, "What it must show"): simulated devices →
collector → mosquitto → alarm engine → dashboard, each part a real process
(``devtools.small_system``), the dashboard over the same broker and database.

1. A fault injected in the simulator appears on the overview (the tile's alarm colour) and
   in the console (its row). The latency from the poll that saw it — the reading's collection
   time in the published message, as a test subscriber on the broker sees it — to the moment
   Chromium shows it is RECORDED (printed and in the test's properties), not asserted: the
   repository keeps timings in benchmarks (``python -m bench live_chain_bench``).
2. A killed collector shows as ONE system alarm on the console (the watchdog's
   ``SYS-COL-collector-1/service``) and its devices' tiles stale, within bounded waits — and
   no comm_loss alarm for any of its devices, even past the time comm_loss would fire (the
   engine is given comm_loss without on-delay and a 40 s stale window for this).

The two tests share one running system and run in this order (the second kills the collector).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from dashboards import ids
from dashboards.app import DashboardServer
from dashboards.queries import Queries
from dashboards.sample import seed_users
from devtools.small_system import BusWatcher, SmallSystem, reading_of
from facility.config import AlarmsConfig, DatabaseConfig, MqttConfig, Settings

ASSETS = ["HT-PMP-001", "HT-PMP-002", "HT-PDP-001", "HT-LGT-001"]
FAULT_ASSET, FAULT, POINT = "HT-PDP-001", "dry_run", "dry_run_trip"
ALARM_ID = f"{FAULT_ASSET}/{FAULT}"
SYSTEM_ALARM = "SYS-COL-collector-1/service"
ENGINE_STALE_AFTER_S = 40.0  # > the watchdog's 35 s (heartbeat 5 s + stall 30 s)

# Stamps (Date.now()) the first moment an element matching the selector is shown with a
# class matching the pattern, from a MutationObserver: what the person would see, when.
WATCH = """([key, selector, pattern]) => {
  window.__seen = window.__seen || {};
  const re = new RegExp(pattern);
  const check = () => {
    if (window.__seen[key]) return;
    const el = document.querySelector(selector);
    if (el && !el.hidden && re.test(el.className || "")) window.__seen[key] = Date.now();
  };
  new MutationObserver(check).observe(document.body,
    {subtree: true, childList: true, attributes: true, characterData: true});
  check();
}"""


@dataclass
class Chain:
    system: SmallSystem
    url: str
    users: dict[str, tuple[str, str]]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    base: Path = tmp_path_factory.mktemp("chain")
    system = SmallSystem(
        base,
        ASSETS,
        settings={"FACILITY_ALARMS__STALE_AFTER_S": str(ENGINE_STALE_AFTER_S)},
        # comm_loss without on-delay: were it not held by the collector's system alarm,
        # each device would raise it ENGINE_STALE_AFTER_S after its last reading
        alarm_file="overrides:\n  - alarm: comm_loss\n    on_delay_s: 0\n",
    )
    with system:
        users = seed_users(system.database_url)
        settings = Settings(
            database=DatabaseConfig(url=system.database_url),
            mqtt=MqttConfig(url=system.mosquitto.url),
            alarms=AlarmsConfig(stale_after_s=ENGINE_STALE_AFTER_S),
        )
        server = DashboardServer(settings, "127.0.0.1", 0, queries=Queries(settings)).start()
        try:
            yield Chain(system, server.url, users)
        finally:
            server.stop()
            print(system.log_tails())


def _row(alarm_id: str) -> str:
    return f'[id="{ids.console_row(alarm_id)}"]'


def _stamp(page: Page, key: str) -> int | None:
    value = page.evaluate(f"(window.__seen || {{}})[{key!r}] || null")
    return int(value) if value is not None else None


def test_fault_in_the_simulator_appears_on_overview_and_console(
    sign_in_as: Callable[..., Page],
    chain: Chain,
    record_property: Callable[[str, object], None],
) -> None:
    overview = sign_in_as(chain.url, chain.users["operator"], "/")
    console = overview.context.new_page()
    console.goto(chain.url + "/alarms")
    # the chain runs: every device online, fresh from the collector
    for asset_no in ASSETS:
        expect(overview.locator("#" + ids.tile_comm(asset_no))).to_have_text(
            "online", timeout=60_000
        )
    tile = "#" + ids.tile(FAULT_ASSET)
    expect(overview.locator(tile)).not_to_have_class(re.compile(r"tile-alarm-"))
    expect(console.locator(_row(ALARM_ID))).to_have_count(0)
    overview.evaluate(WATCH, ["tile", tile, r"\btile-alarm-high\b"])
    console.evaluate(WATCH, ["row", _row(ALARM_ID), r"\bprio-high\b"])

    with BusWatcher(chain.system.broker) as bus:
        chain.system.fault(FAULT_ASSET, FAULT)
        # the poll that saw it: the first message of the device with the trip set
        seen = bus.wait_for(
            lambda m: m.asset_no == FAULT_ASSET and reading_of(m, POINT) is True, 60
        )
    expect(overview.locator(tile)).to_have_class(re.compile(r"\btile-alarm-high\b"), timeout=30_000)
    expect(console.locator(_row(ALARM_ID))).to_be_visible(timeout=30_000)
    expect(console.locator(_row(ALARM_ID))).to_contain_text("Drain pump dry-run trip")

    shown_tile, shown_row = _stamp(overview, "tile"), _stamp(console, "row")
    assert shown_tile is not None
    assert shown_row is not None
    latency = {
        "bus_ms": seen.received_ms - seen.collected_ms,
        "overview_ms": shown_tile - seen.collected_ms,
        "console_ms": shown_row - seen.collected_ms,
    }
    for name, value in latency.items():
        record_property(f"latency_{name}", value)
    print(f"fault → shown, from the poll that saw it: {latency}")


def test_killed_collector_is_one_system_alarm_and_stale_tiles(
    sign_in_as: Callable[..., Page], chain: Chain
) -> None:
    overview = sign_in_as(chain.url, chain.users["operator"], "/")
    console = overview.context.new_page()
    console.goto(chain.url + "/alarms")
    for asset_no in ASSETS:
        expect(overview.locator("#" + ids.tile_comm(asset_no))).to_have_text(
            "online", timeout=60_000
        )

    chain.system.kill("collector")
    killed = time.monotonic()
    # the collector's system alarm: one row, raised by the engine's watchdog
    expect(console.locator(_row(SYSTEM_ALARM))).to_be_visible(timeout=30_000)
    expect(console.locator(_row(SYSTEM_ALARM))).to_contain_text("collector-1")
    # its devices' tiles: stale, never "online" (three fast polls, at least 30 s)
    for asset_no in ASSETS:
        expect(overview.locator("#" + ids.tile(asset_no))).to_have_class(
            re.compile(r"\btile-stale\b"), timeout=45_000
        )
        expect(overview.locator("#" + ids.tile_comm(asset_no))).to_have_text(re.compile(r"^stale"))
    expect(overview.locator("#" + ids.summary_cell("HT", "stale"))).to_have_text(str(len(ASSETS)))
    # past the engine's stale window (comm_loss has no on-delay here): still one alarm
    console.wait_for_timeout(max(0.0, killed + ENGINE_STALE_AFTER_S + 10 - time.monotonic()) * 1000)
    system_rows = console.locator('[id^="alarm-row-SYS-"]')
    expect(system_rows).to_have_count(1)
    expect(console.locator('[id$="/comm_loss"]')).to_have_count(0)
