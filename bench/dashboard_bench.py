"""The dashboard in Chromium at the wall's scale: the overview with 500 tiles and the alarm
console with 500 standing alarms, both at a 1 s tick, while 500 devices publish every second.

Prints, per page: the browser's main-thread busy share (Chrome's ``TaskDuration`` over a
measured window, from the DevTools protocol), the server's time per tick (the page's tick
callback timed in-process, and the tick requests' duration seen by the browser), and the
bytes a tick carries. The goal (issue 12): under 20 % busy and under 50 ms server time.

Run it against other code to print today's figures beside these:
``cd /path/to/other/checkout && PYTHONPATH=$PWD:/path/to/this python -m bench.dashboard_bench``
needs the bench module importable: copy it, or run ``python -m bench dashboard_bench`` in
each checkout (the bench only uses APIs both have).
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DEVICES = 500
ALARMS = 500
WINDOW_S = float(os.environ.get("DASH_BENCH_WINDOW_S", "20"))
# > 1: the standing alarms come in incidents of this many members (one console row each),
# as the engine notes them on the members' raises (incident id, first-out)
INCIDENT_SIZE = int(os.environ.get("DASH_BENCH_INCIDENT_SIZE", "0"))
WARMUP_S = 6.0
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]  # fmt: skip


def _ledger(path: Path, n: int) -> list[tuple[str, str, str]]:
    """A ledger of ``n`` monitored HT devices copied from the demo's; (asset, class, profile)."""
    from maintenance.ledger_files import demo_ledger_paths

    source = next(p for p in demo_ledger_paths() if p.stem == "HT")
    with source.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["profile"] and not r["parent_asset_no"]]
    made, out = [], []
    for i in range(n):
        row = dict(rows[i % len(rows)])
        cls = row["device_class"]
        row["asset_no"] = f"HT-{cls}-{500 + i}"
        row["name_en"] = f"{row['name_en']} (bench {i})"
        row["name_zh"] = f"{row['name_zh']} (测试{i})"
        row["serial"] = f"{row['serial']}-{i}"
        # an endpoint of its own (the ledger refuses two assets on one): never polled here
        if row["protocol"] == "modbus":
            row["port"], row["unit_id"] = str(20000 + i), "1"
        else:
            row["opcua_url"] = re.sub(r":\d+", f":{30000 + i}", row["opcua_url"], count=1)
        out.append(row)
        made.append((row["asset_no"], cls, row["profile"]))
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(out[0]))
        writer.writeheader()
        writer.writerows(out)
    return made


def _seed(url: str, folder: Path) -> tuple[list[tuple[str, str, str]], dict[str, tuple[str, str]]]:
    from dashboards.sample import seed_users
    from device_profiles import load_library
    from gateway.alarms.journal import AlarmRecord
    from gateway.alarms.state import AlarmState, AlarmStatus, EventKind
    from gateway.alarms.store import AlarmStore, CurrentAlarm
    from maintenance.ledger_files import demo_sites
    from maintenance.store import LedgerStore

    devices = _ledger(folder / "HT.csv", DEVICES)
    with LedgerStore(url) as ledger:
        ledger.save_sites(demo_sites(), user="bench")
        ledger.import_file(folder / "HT.csv", user="bench")
    profiles = load_library()
    now = datetime.now(UTC)
    priorities = ("critical", "high", "medium", "low")
    states = (AlarmState.UNACK, AlarmState.ACKED, AlarmState.RTN_UNACK)
    with AlarmStore(url) as store:
        records, current = [], []
        for i, (asset_no, _cls, profile_id) in enumerate(devices[:ALARMS]):
            name = profiles[profile_id].alarms[0].name
            alarm_id = f"{asset_no}/{name}"
            since = now - timedelta(minutes=i)
            priority, state = priorities[i % 4], states[i % 3]
            active = state is not AlarmState.RTN_UNACK
            detail: dict[str, Any] = {}
            if INCIDENT_SIZE > 1 and i % INCIDENT_SIZE:
                first = devices[i - i % INCIDENT_SIZE]
                first_id = f"{first[0]}/{profiles[first[2]].alarms[0].name}"
                # members are raised after their first-out: alarm i - i % size is the oldest
                since = now - timedelta(minutes=i - i % INCIDENT_SIZE, seconds=-(i % INCIDENT_SIZE))
                detail = {"incident": f"INC-bench-{i // INCIDENT_SIZE}", "first_out": first_id}
            records.append(
                AlarmRecord(
                    since,
                    alarm_id,
                    "HT",
                    asset_no,
                    name,
                    EventKind.RAISE,
                    AlarmState.NORMAL,
                    AlarmState.UNACK,
                    priority,
                    1.0,
                    detail=detail,
                )
            )
            status = AlarmStatus(state=state, since=since, active=active, active_since=since,
                                 raw=True, raw_since=since, value=1.0)  # fmt: skip
            current.append(CurrentAlarm(alarm_id, "HT", asset_no, name, priority, status))
        store.write(records, current)
    return devices, seed_users(url)


class Publisher:
    """Every device publishes one message a second (values change, so tiles change)."""

    def __init__(self, broker_url: str, devices: list[tuple[str, str, str]]) -> None:
        self.broker_url, self.devices = broker_url, devices
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        from dashboards.tiles import KEY_POINTS
        from facility.mqtt import BrokerSettings, MqttLink
        from facility.payload import DeviceMessage, device_topic, encode
        from facility.types import Quality, Reading

        link = MqttLink(BrokerSettings.from_url(self.broker_url), f"dash-bench-{os.getpid()}")
        task = asyncio.create_task(link.run())
        await asyncio.wait_for(link.connected.wait(), 10)
        seq = 0
        while not self._stop.is_set():
            started = time.monotonic()
            seq += 1
            at = datetime.now(UTC)
            for n, (asset_no, cls, _profile) in enumerate(self.devices):
                key, second = KEY_POINTS[cls]
                readings = [Reading("HT", asset_no, key, round(1 + (seq + n) % 50 / 10, 2), "",
                                    Quality.GOOD, None, at)]  # fmt: skip
                if second:
                    readings.append(Reading("HT", asset_no, second, 1, "", Quality.GOOD, None, at))
                message = DeviceMessage("HT", asset_no, cls, seq, at, tuple(readings),
                                        {"comm_ok": True})  # fmt: skip
                link.publish(device_topic("HT", asset_no), encode(message), qos=0, retain=True)
                self.sent += 1
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    def __enter__(self) -> Publisher:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def _server_ms(fn: Callable[[], Any], runs: int = 6) -> tuple[float, int]:
    """The mean time of ``fn`` called once a second, as a 1 s tick calls it (a cache that
    holds for less than a tick does not flatter the figure)."""
    fn()
    spent = 0.0
    for _ in range(runs):
        time.sleep(1.0)
        started = time.perf_counter()
        result = fn()
        spent += time.perf_counter() - started
    size = len(json.dumps(result, default=str))
    return spent / runs * 1000, size


def _measure_page(page: Any, url: str) -> dict[str, float]:
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.goto(url)
    page.wait_for_timeout(WARMUP_S * 1000)

    def task_s() -> float:
        metrics = cdp.send("Performance.getMetrics")["metrics"]
        return float(next(m["value"] for m in metrics if m["name"] == "TaskDuration"))

    page.evaluate(
        "performance.clearResourceTimings(); performance.setResourceTimingBufferSize(5000)"
    )
    busy0, wall0 = task_s(), time.perf_counter()
    page.wait_for_timeout(WINDOW_S * 1000)
    busy1, wall1 = task_s(), time.perf_counter()
    ticks = page.evaluate(
        """() => performance.getEntriesByType('resource')
             .filter(e => e.name.indexOf('_dash-update-component') !== -1)
             .map(e => [e.duration, e.encodedBodySize || e.transferSize || 0])"""
    )
    durations = sorted(d for d, _ in ticks) or [0.0]
    return {
        "busy_pct": 100 * (busy1 - busy0) / (wall1 - wall0),
        "requests": len(ticks),
        "request_ms_median": durations[len(durations) // 2],
        "request_bytes_avg": sum(b for _, b in ticks) / max(1, len(ticks)),
    }


def main() -> None:
    from playwright.sync_api import sync_playwright

    import dashboards
    from dashboards.app import DashboardServer
    from dashboards.queries import Queries
    from devtools.services import MosquittoServer
    from facility.config import DatabaseConfig, MqttConfig, Settings
    from maintenance.identity.roles import Principal, Role, Source

    print(f"code under test: {Path(dashboards.__file__).resolve().parents[1]}")
    with tempfile.TemporaryDirectory() as tmp, MosquittoServer(Path(tmp) / "bus") as bus:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'facility.db'}"
        devices, users = _seed(url, folder)
        settings = Settings(database=DatabaseConfig(url=url), mqtt=MqttConfig(url=bus.url))
        queries = Queries(settings, ack_timeout_s=1.0)
        server = DashboardServer(settings, "127.0.0.1", 0, queries=queries, threads=4).start()
        # the page modules exist once the app does; the 1 s tick on both pages
        import dashboards.pages.alarms as alarms_page
        import dashboards.pages.overview as overview_page

        overview_page.TICK_MS = 1000
        alarms_page.TICK_MS = 1000
        supervisor = Principal("bench", frozenset({Role.SUPERVISOR}), frozenset({"*"}),
                               Source.SYSTEM)  # fmt: skip
        try:
            with Publisher(bus.url, devices) as publisher, sync_playwright() as pw:
                time.sleep(3)
                tiles_ms, tiles_bytes = _server_ms(lambda: queries.live_tiles("en", supervisor))
                if hasattr(queries, "console_snapshot"):
                    console_fn = lambda: queries.console_snapshot("en", supervisor)  # noqa: E731
                else:  # the old console rebuilt a table from the alarm list each tick
                    from flask import g

                    def console_fn() -> Any:
                        with server.app.server.test_request_context():
                            g.principal = supervisor
                            return alarms_page._console("en")  # type: ignore[attr-defined]

                if hasattr(queries, "raise_notes"):  # the first read of the incidents' notes
                    every = queries.current_alarms()
                    started = time.perf_counter()
                    queries.raise_notes(every)
                    cold_ms = (time.perf_counter() - started) * 1000
                    print(f"raise notes of {len(every)} alarms, first read: {cold_ms:.1f} ms")
                console_ms, console_bytes = _server_ms(console_fn)
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                context = browser.new_context(viewport={"width": 1920, "height": 1080})
                page = context.new_page()
                name, password = users["supervisor"]
                page.goto(f"{server.url}/login?next=/")
                page.locator("#username").fill(name)
                page.locator("#password").fill(password)
                page.locator("#login-button").click()
                page.wait_for_url(f"{server.url}/")
                overview = _measure_page(page, server.url + "/")
                console = _measure_page(page, server.url + "/alarms")
                browser.close()
                print(
                    f"{DEVICES} devices publishing every second ({publisher.sent} messages), "
                    f"{ALARMS} standing alarms"
                    + (f" in incidents of {INCIDENT_SIZE}" if INCIDENT_SIZE > 1 else "")
                    + f", {WINDOW_S:.0f} s windows, 1 s ticks"
                )
                for label, measured, ms, size in (
                    ("overview (500 tiles)", overview, tiles_ms, tiles_bytes),
                    ("console (500 alarms)", console, console_ms, console_bytes),
                ):
                    print(
                        f"{label:22s} main-thread busy {measured['busy_pct']:5.1f} %  "
                        f"server {ms:6.1f} ms/tick (in-process)  "
                        f"tick request median {measured['request_ms_median']:6.1f} ms  "
                        f"{measured['requests']:3.0f} requests, "
                        f"{measured['request_bytes_avg'] / 1024:6.1f} KiB avg; "
                        f"snapshot {size / 1024:6.1f} KiB"
                    )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
