"""PM generator: one pass over 10,000 assets with 3 plans each (SQLite, this machine).

Two estates of synthetic assets: 10,000 fire panels (daily check, monthly test, annual
service: calendar plans) and, separately, 10,000 booster pumps with 3 plans (run-hours or 3
months whichever first, annual service, and a monthly check added by an overrides file),
whose counters come from a meter source (10,000 readings per pass). Prints the time of the
first pass (30,000 plans created, what is due generated), of a steady pass (nothing new
due: the target is well under a second), of a pass where every daily check falls due, and
orders generated per second.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from device_profiles import load_library
from maintenance.db import Database
from maintenance.generator import Generator
from maintenance.pm_plans import Overrides, PlanOverride
from maintenance.schema import AssetNumberRow, AssetRow, SiteRow
from maintenance.telemetry import StaticMeters

ASSETS = 10_000
T0 = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)  # local midnight, Nov 26, in Zhongshan


def _ledger(url: str, cls: str, profile: str) -> list[str]:
    numbers = [f"BX-{cls}-{i:05d}" for i in range(1, ASSETS + 1)]
    with Database(url) as database:
        database.upgrade()
        with database.transaction(write=True) as tx:
            tx.add(SiteRow(code="BX", name_en="Bench", name_zh="基准", timezone="Asia/Shanghai"))
            tx.flush()
            for i, number in enumerate(numbers):
                tx.add(
                    AssetNumberRow(
                        asset_no=number, site="BX", device_class=cls, seq=i + 1, allocated_at=T0,
                        reason="bench",
                    ),
                    AssetRow(
                        asset_no=number, site="BX", device_class=cls, name_en=number,
                        name_zh=number, building="", zone="", system="", profile=profile,
                        make="", model="", serial="", install_date=date(2020, 1, 1 + i % 28),
                        criticality="high", status="in_service", protocol=None, host=None,
                        port=None, unit_id=None, opcua_url=None, node_root=None,
                        parent_asset_no=None, created_at=T0, updated_at=T0,
                    ),
                )  # fmt: skip
    return numbers


def _timed(label: str, generator: Generator, now: datetime) -> float:
    started = time.perf_counter()
    report = generator.run_pass(now)
    elapsed = time.perf_counter() - started
    rate = f", {len(report.generated) / elapsed:,.0f} orders/s" if report.generated else ""
    print(
        f"{label:<34} {elapsed:6.3f} s  plans checked {report.plans_checked:>6,}  "
        f"generated {len(report.generated):>6,}  missed {report.missed:>5,}{rate}",
        flush=True,
    )
    return elapsed


def main() -> None:
    library = load_library()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'fire.db'}"
        _ledger(url, "FAP", "fire-alarm-panel")
        with Generator(url, profiles=library, worker="bench") as gen:
            print(f"{ASSETS:,} fire panels x 3 calendar plans", flush=True)
            _timed("first pass (creates 30,000 plans)", gen, T0 - timedelta(hours=1))
            _timed("pass: daily checks due", gen, T0)
            steady = _timed("steady pass (nothing new due)", gen, T0 + timedelta(minutes=5))
            _timed("steady pass again", gen, T0 + timedelta(minutes=10))
            _timed("next day: daily checks due", gen, T0 + timedelta(days=1))

        url = f"sqlite:///{Path(tmp) / 'pumps.db'}"
        numbers = _ledger(url, "PMP", "vfd-booster-pump")
        extra = {
            "fields": {
                "title": {"en": "Monthly check", "zh": "月度检查"},
                "triggers": [{"kind": "calendar", "every": 1, "unit": "month"}],
            }
        }
        overrides = Overrides(
            "bench",
            {n: {"monthly_check": PlanOverride(n, "monthly_check", **extra)} for n in numbers},  # type: ignore[arg-type]
        )
        meters = StaticMeters({(n, "run_hours"): 1000.0 + i % 400 for i, n in enumerate(numbers)})
        with Generator(
            url, profiles=library, overrides=overrides, meters=meters, worker="bench"
        ) as gen:
            print(f"{ASSETS:,} pumps x 3 plans (meter + floating, calendar, calendar)", flush=True)
            _timed("first pass (baselines read)", gen, T0)
            pump_steady = _timed("steady pass (10,000 meters read)", gen, T0 + timedelta(hours=1))
            for i, n in enumerate(numbers[: ASSETS // 10]):
                meters.readings[(n, "run_hours")] = 1500.0 + i % 400
            _timed("1,000 pumps cross 500 run hours", gen, T0 + timedelta(hours=2))
            _timed("steady pass", gen, T0 + timedelta(hours=3))
        print(
            f"steady pass over {3 * ASSETS:,} plans: {steady:.3f} s (calendar), "
            f"{pump_steady:.3f} s (with meters); target well under 1 s",
            flush=True,
        )


if __name__ == "__main__":
    main()
