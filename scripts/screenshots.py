"""Screenshots of the dashboard for README.md and docs/dashboard.md:
docs/img/dashboard-<page>[-phone][-zh].png, desktop 1280×800 and phone 390×844, English and 中文.

Starts its own mosquitto and influxd in a temporary folder, writes the sample Huating data
(dashboards.sample: HT ledger, alarms, work orders, retained device messages, two days of
history), serves the dashboard on a free port and photographs each page in headless
Chromium. Also prints page load times and the size of one live snapshot.

    .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboards import ids  # noqa: E402
from dashboards.app import DashboardServer  # noqa: E402
from dashboards.sample import (  # noqa: E402
    HISTORY_ASSET,
    seed_bus,
    seed_history,
    seed_sql,
    seed_users,
)
from devtools.services import InfluxServer, MosquittoServer  # noqa: E402
from facility.config import DatabaseConfig, InfluxConfig, MqttConfig, Settings  # noqa: E402
from facility.mqtt import BrokerSettings  # noqa: E402
from maintenance.identity.roles import system_principal  # noqa: E402

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]  # fmt: skip
DESKTOP = (1280, 800)
PHONE = (390, 844)
OVERVIEW_READY = "#" + ids.tile_value("HT-PMP-001")
CONSOLE_READY = "#" + ids.CONSOLE_BODY + " tr"
ASSET_READY = "#" + ids.HISTORY_GRAPH + " .scatterlayer .trace"
PLAN_BUTTON = "#" + ids.plan_toggle("HT", "plan")  # clicked before the plan shots
# (file name, path, selector that says the page is ready, language, viewport)
SHOTS = [
    ("overview", "/", OVERVIEW_READY, "en", DESKTOP),
    ("plan", "/", OVERVIEW_READY, "en", DESKTOP),
    ("plan-phone-zh", "/", OVERVIEW_READY, "zh", PHONE),
    ("overview-zh", "/", OVERVIEW_READY, "zh", DESKTOP),
    ("overview-phone", "/", OVERVIEW_READY, "en", PHONE),
    ("overview-phone-zh", "/", OVERVIEW_READY, "zh", PHONE),
    ("alarms", "/alarms", CONSOLE_READY, "en", DESKTOP),
    ("alarms-zh", "/alarms", CONSOLE_READY, "zh", DESKTOP),
    ("alarms-phone", "/alarms", CONSOLE_READY, "en", PHONE),
    ("alarms-phone-zh", "/alarms", CONSOLE_READY, "zh", PHONE),
    ("workorders", "/workorders", "#" + ids.WO_LIST + " a", "en", DESKTOP),
    ("asset", f"/asset/{HISTORY_ASSET}", ASSET_READY, "en", DESKTOP),
    ("asset-zh", f"/asset/{HISTORY_ASSET}", ASSET_READY, "zh", DESKTOP),
    ("kpi", "/kpi", "#" + ids.KPI_TABLE, "en", DESKTOP),
    # every other page in the three other variants too (issue 12: desktop and 390x844, en/zh)
    ("workorders-zh", "/workorders", "#" + ids.WO_LIST + " a", "zh", DESKTOP),
    ("workorders-phone", "/workorders", "#" + ids.WO_LIST + " a", "en", PHONE),
    ("workorders-phone-zh", "/workorders", "#" + ids.WO_LIST + " a", "zh", PHONE),
    ("asset-phone", f"/asset/{HISTORY_ASSET}", ASSET_READY, "en", PHONE),
    ("asset-phone-zh", f"/asset/{HISTORY_ASSET}", ASSET_READY, "zh", PHONE),
    ("kpi-zh", "/kpi", "#" + ids.KPI_TABLE, "zh", DESKTOP),
    ("kpi-phone", "/kpi", "#" + ids.KPI_TABLE, "en", PHONE),
    ("kpi-phone-zh", "/kpi", "#" + ids.KPI_TABLE, "zh", PHONE),
    ("reports", "/reports", "#" + ids.REPORTS_TABLE, "en", DESKTOP),
    ("reports-zh", "/reports", "#" + ids.REPORTS_TABLE, "zh", DESKTOP),
    ("reports-phone", "/reports", "#" + ids.REPORTS_TABLE, "en", PHONE),
    ("reports-phone-zh", "/reports", "#" + ids.REPORTS_TABLE, "zh", PHONE),
]


def main() -> None:
    out = ROOT / "docs" / "img"
    out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        MosquittoServer(Path(tmp) / "mosquitto") as mosquitto,
        InfluxServer(Path(tmp) / "influxd") as influxd,
    ):
        settings = Settings(
            database=DatabaseConfig(url=f"sqlite:///{tmp}/facility.db"),
            mqtt=MqttConfig(url=mosquitto.url),
            influxdb=InfluxConfig(url=influxd.url, database="facility"),
        )
        seed_sql(settings.database_url)
        user, password = seed_users(settings.database_url)["supervisor"]
        seed_history(influxd.url, "facility")
        seed_bus(BrokerSettings.from_url(mosquitto.url))
        with DashboardServer(settings, "127.0.0.1", 0) as server, sync_playwright() as pw:
            time.sleep(1.0)  # the live feed receives the retained messages
            snapshot = server.queries.live_tiles("en", system_principal("screenshots"))
            size = len(json.dumps(snapshot, ensure_ascii=False).encode())
            print(f"live snapshot: {len(snapshot['tiles'])} tiles, {size} bytes of JSON")
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for name, path, ready, lang, (width, height) in SHOTS:
                context = browser.new_context(
                    viewport={"width": width, "height": height}, timezone_id="Asia/Shanghai"
                )
                page = context.new_page()
                page.goto(server.url + "/login")  # as the supervisor, who sees every page
                page.fill("#username", user)
                page.fill("#password", password)
                page.click("#login-button")
                page.wait_for_url(server.url + "/")
                if lang != "en":  # the toggle's choice lives in local storage
                    page.goto(server.url + "/kpi")
                    page.evaluate(f"localStorage.setItem('{ids.LANG}', JSON.stringify('{lang}'))")
                started = time.perf_counter()
                page.goto(server.url + path)
                page.wait_for_selector(ready, state="attached", timeout=15_000)
                if name.startswith("plan"):
                    page.click(PLAN_BUTTON)
                page.wait_for_timeout(1500)  # live pages tick: "networkidle" may never come
                elapsed = time.perf_counter() - started
                # the asset page is long (record, live values, orders, trend, timeline): all of it
                page.screenshot(
                    path=str(out / f"dashboard-{name}.png"), full_page=name.startswith("asset")
                )
                print(f"{name:12} ready in {elapsed:.2f} s -> docs/img/dashboard-{name}.png")
                context.close()
            browser.close()


if __name__ == "__main__":
    main()
