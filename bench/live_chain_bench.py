"""The real chain's latency in Chromium (issue 12): "a fault injected in the simulator appears
on the overview and in the console within 2 s of the poll that saw it; a stopped collector
shows as one system alarm and stale tiles within 30 s".

Each round starts a small system as processes (``devtools.small_system``: mosquitto,
simulators, collector, alarm engine on four HT devices) and a dashboard over it, opens the
overview and the console in headless Chromium, then:

1. injects ``dry_run`` into HT-PDP-001 (high priority, no on-delay). From the poll that saw it
   — the collection time in the published message, as a test subscriber on the broker gets
   it — to the tile's alarm colour and the console's row, stamped in the page by a
   MutationObserver (Date.now(), the same clock).
2. kills the collector (SIGKILL): to the console's system alarm row and to every tile stale.

Prints each round and the median and worst of each figure. ``LIVE_CHAIN_ROUNDS`` (default 3).
The browser test ``tests/browser/test_live_chain.py`` checks the same things without timing.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

ASSETS = ["HT-PMP-001", "HT-PMP-002", "HT-PDP-001", "HT-LGT-001"]
ROUNDS = int(os.environ.get("LIVE_CHAIN_ROUNDS", "3"))
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]  # fmt: skip
WATCH = """([key, selector, pattern, every]) => {
  window.__seen = window.__seen || {};
  const re = new RegExp(pattern);
  const check = () => {
    if (window.__seen[key]) return;
    const found = Array.from(document.querySelectorAll(selector))
      .filter((el) => !el.hidden && re.test(el.className || ""));
    if (found.length && found.length >= every) window.__seen[key] = Date.now();
  };
  new MutationObserver(check).observe(document.body,
    {subtree: true, childList: true, attributes: true, characterData: true});
  check();
}"""


def _stamp(page: object, key: str, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = page.evaluate(f"(window.__seen || {{}})[{key!r}] || null")  # type: ignore[attr-defined]
        if value is not None:
            return int(value)
        time.sleep(0.1)
    raise TimeoutError(f"{key}: not shown in {timeout_s:g} s")


def one_round(base: Path) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    from dashboards import ids
    from dashboards.app import DashboardServer
    from dashboards.queries import Queries
    from dashboards.sample import seed_users
    from devtools.small_system import BusWatcher, SmallSystem, reading_of
    from facility.config import DatabaseConfig, MqttConfig, Settings

    figures: dict[str, float] = {}
    with SmallSystem(base, ASSETS) as system:
        users = seed_users(system.database_url)
        settings = Settings(
            database=DatabaseConfig(url=system.database_url),
            mqtt=MqttConfig(url=system.mosquitto.url),
        )
        server = DashboardServer(settings, "127.0.0.1", 0, queries=Queries(settings)).start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                context = browser.new_context(viewport={"width": 1920, "height": 1080})
                overview = context.new_page()
                name, password = users["operator"]
                overview.goto(f"{server.url}/login?next=/")
                overview.locator("#username").fill(name)
                overview.locator("#password").fill(password)
                overview.locator("#login-button").click()
                overview.wait_for_url(f"{server.url}/")
                console = context.new_page()
                console.goto(server.url + "/alarms")
                for asset_no in ASSETS:
                    overview.wait_for_function(
                        f"document.getElementById('{ids.tile_comm(asset_no)}')?.textContent"
                        " === 'online'",
                        timeout=90_000,
                    )
                row = f'[id="{ids.console_row("HT-PDP-001/dry_run")}"]'
                overview.evaluate(WATCH, ["tile", "#" + ids.tile("HT-PDP-001"), "tile-alarm-", 1])
                console.evaluate(WATCH, ["row", row, "prio-", 1])
                with BusWatcher(system.broker) as bus:
                    system.fault("HT-PDP-001", "dry_run")
                    seen = bus.wait_for(
                        lambda m: (
                            m.asset_no == "HT-PDP-001" and reading_of(m, "dry_run_trip") is True
                        ),
                        60,
                    )
                figures["fault → overview tile (ms)"] = (
                    _stamp(overview, "tile", 30) - seen.collected_ms
                )
                figures["fault → console row (ms)"] = _stamp(console, "row", 30) - seen.collected_ms
                figures["poll → test subscriber (ms)"] = seen.received_ms - seen.collected_ms

                stale = ",".join("#" + ids.tile(a) for a in ASSETS)
                overview.evaluate(WATCH, ["stale", stale, r"\btile-stale\b", len(ASSETS)])
                console.evaluate(WATCH, ["sys", '[id^="alarm-row-SYS-COL-"]', "prio-", 1])
                killed_ms = time.time() * 1000
                system.kill("collector")
                figures["kill → system alarm row (s)"] = (
                    _stamp(console, "sys", 60) - killed_ms
                ) / 1000
                figures["kill → every tile stale (s)"] = (
                    _stamp(overview, "stale", 60) - killed_ms
                ) / 1000
                browser.close()
        finally:
            server.stop()
    return figures


def main() -> None:
    rounds: list[dict[str, float]] = []
    for n in range(ROUNDS):
        with tempfile.TemporaryDirectory(prefix="live-chain-") as folder:
            figures = one_round(Path(folder))
        rounds.append(figures)
        print(f"round {n + 1}: " + ", ".join(f"{k} {v:.0f}" if "ms" in k else f"{k} {v:.1f}"
                                            for k, v in figures.items()), flush=True)  # fmt: skip
    print(f"\n{ROUNDS} rounds, 4 devices, 1 s overview and console ticks:")
    for key in rounds[0]:
        values = [r[key] for r in rounds]
        print(f"  {key:32} median {statistics.median(values):8.1f}   worst {max(values):8.1f}")


if __name__ == "__main__":
    main()
