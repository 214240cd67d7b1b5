"""A small, fixed picture of the Huating estate for the browser tests and the screenshots:
the HT ledger, a few alarms and work orders in SQL, retained device messages on the broker
and two days of history in InfluxDB. Everything is written through the project's own APIs
(LedgerStore, AlarmStore, WorkOrderStore, payload.encode, LineEncoder + retention backfill).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from facility.mqtt import BrokerSettings, publish_once
from facility.payload import DeviceMessage, device_topic, encode
from facility.types import PointValue, Quality, Reading
from gateway.alarms.journal import AlarmRecord
from gateway.alarms.state import AlarmState, AlarmStatus, EventKind, Operator
from gateway.alarms.store import AlarmStore, CurrentAlarm
from gateway.history import MINUTE_MS
from gateway.influx import InfluxClient
from gateway.lineproto import LineEncoder
from gateway.retention import RetentionPlan, backfill, setup
from maintenance.identity.roles import Principal, Role, Source
from maintenance.identity.store import UserStore
from maintenance.ledger_files import demo_ledger_paths, demo_sites
from maintenance.store import LedgerStore
from maintenance.wo_store import LogNotifier, WorkOrderStore

SITE = "HT"
HISTORY_ASSET = "HT-PMP-001"
HISTORY_POINT = "discharge_pressure"
HISTORY_HOURS = 48

# asset -> class, points {name: (value, unit, quality)}, comm_ok
DEVICES: dict[str, tuple[str, dict[str, tuple[PointValue, str, Quality]], bool]] = {
    "HT-PMP-001": (
        "PMP",
        {
            "discharge_pressure": (4.21, "bar", Quality.GOOD),
            "run_state": (1, "", Quality.GOOD),
            "frequency": (42.5, "Hz", Quality.GOOD),
        },
        True,
    ),
    "HT-PMP-002": (
        "PMP",
        {
            "discharge_pressure": (None, "bar", Quality.BAD_COMM),
            "run_state": (None, "", Quality.BAD_COMM),
        },
        False,
    ),
    "HT-PDP-001": (
        "PDP",
        {"pool_level": (38.5, "cm", Quality.GOOD), "pump_running": (True, "", Quality.GOOD)},
        True,
    ),
    "HT-TNK-001": (
        "TNK",
        {"level": (2.85, "m", Quality.GOOD), "volume_pct": (71.3, "%", Quality.GOOD)},
        True,
    ),
    "HT-LGT-001": (
        "LGT",
        {"contactor_on": (True, "", Quality.GOOD), "lamps_failed": (2, "", Quality.GOOD)},
        True,
    ),
    "HT-FAP-001": ("FAP", {"panel_state": (0, "", Quality.GOOD)}, True),
}

# alarm id, priority, state, value
ALARMS: list[tuple[str, str, AlarmState, PointValue]] = [
    ("HT-PDP-001/dry_run", "critical", AlarmState.UNACK, True),
    ("HT-TNK-001/level_low", "high", AlarmState.ACKED, 0.42),
    ("HT-LGT-001/lamp_failures", "low", AlarmState.UNACK, 2),
]

ORDERS: list[tuple[str, str, str, str, str]] = [
    ("HT-PDP-001", "dry_run", "Drain pump dry-run trip", "排水泵干运行跳闸", "critical"),
    ("HT-LGT-001", "lamp_failures", "Replace failed street lamps", "更换故障路灯", "medium"),
]


def seed_sql(url: str, now: datetime | None = None) -> tuple[list[str], list[str]]:
    """The demo sites, the HT ledger, alarms and corrective work orders; returns the alarm
    ids and the work-order numbers."""
    now = now or datetime.now(UTC)
    with LedgerStore(url) as ledger:
        ledger.save_sites(demo_sites(), user="sample")
        for path in demo_ledger_paths():
            if path.stem == SITE:
                ledger.import_file(path, user="sample")
    with AlarmStore(url) as alarms:
        for i, (alarm_id, priority, state, value) in enumerate(ALARMS):
            asset_no, _, alarm = alarm_id.partition("/")
            since = now - timedelta(minutes=5 + 17 * i)
            record = AlarmRecord(
                since, alarm_id, SITE, asset_no, alarm, EventKind.RAISE,
                AlarmState.NORMAL, AlarmState.UNACK, priority, value,
            )  # fmt: skip
            ack = (
                Operator("li.na", since + timedelta(minutes=2), "checking")
                if state is AlarmState.ACKED
                else None
            )
            status = AlarmStatus(
                state=state, since=since, active=True, active_since=since, raw=True,
                raw_since=since, value=value, ack=ack,
            )  # fmt: skip
            alarms.write(
                [record], [CurrentAlarm(alarm_id, SITE, asset_no, alarm, priority, status)]
            )
    numbers = []
    with WorkOrderStore(url, notifier=LogNotifier()) as orders:
        for asset_no, condition, title_en, title_zh, priority in ORDERS:
            result = orders.raise_corrective(
                asset_no, condition, title_en=title_en, title_zh=title_zh, priority=priority
            )
            numbers.append(result.order.number)
    return [a[0] for a in ALARMS], numbers


def device_message(asset_no: str, seq: int, at: datetime) -> DeviceMessage:
    device_class, points, comm_ok = DEVICES[asset_no]
    readings = tuple(
        Reading(SITE, asset_no, name, value, unit, quality, None, at)
        for name, (value, unit, quality) in points.items()
    )
    return DeviceMessage(SITE, asset_no, device_class, seq, at, readings, {"comm_ok": comm_ok})


def seed_bus(broker: BrokerSettings, now: datetime | None = None) -> list[str]:
    """Retained device messages, as collectors leave them on the broker."""
    now = now or datetime.now(UTC)
    for asset_no in DEVICES:
        payload = encode(device_message(asset_no, 1, now))
        publish_once(broker, device_topic(SITE, asset_no), payload, retain=True)
    return list(DEVICES)


def seed_history(influx_url: str, database: str, now_ms: int | None = None) -> int:
    """Two days of 1-minute discharge pressure of HT-PMP-001, with its aggregates."""
    now_ms = now_ms or int(datetime.now(UTC).timestamp() * 1000)
    end = now_ms - now_ms % MINUTE_MS
    start = end - HISTORY_HOURS * 60 * MINUTE_MS
    client = InfluxClient(influx_url, database)
    try:
        plan = RetentionPlan()
        setup(client, plan)
        encoder = LineEncoder()
        lines = []
        for i, ts in enumerate(range(start, end, MINUTE_MS)):
            at = datetime.fromtimestamp(ts / 1000, tz=UTC)
            hour = (ts // 3_600_000) % 24
            # daily demand: pressure sags in the morning and evening peaks
            pressure = (
                4.3 - (0.35 if hour in (22, 23, 0, 1, 10, 11) else 0.0) + 0.03 * math.sin(i / 9)
            )
            reading = Reading(
                SITE, HISTORY_ASSET, HISTORY_POINT, round(pressure, 3), "bar", Quality.GOOD,
                None, at,
            )  # fmt: skip
            lines.append(
                encoder.encode(DeviceMessage(SITE, HISTORY_ASSET, "PMP", i + 1, at, (reading,), {}))
            )
        for lo in range(0, len(lines), 2000):
            client.write(b"".join(lines[lo : lo + 2000]))
        backfill(client, plan, start, end)
        return len(lines)
    finally:
        client.close()


#: One user per role: (name, role, estates). The technician works at Ju only, so what a
#: person of one estate sees can be shown beside someone who sees all three.
DEMO_USERS: list[tuple[str, str, tuple[str, ...]]] = [
    ("admin", "admin", ("*",)),
    ("viewer", "viewer", ("*",)),
    ("operator", "operator", ("*",)),
    ("tech.ju", "technician", ("JU",)),
    ("supervisor", "supervisor", ("*",)),
    ("manager", "manager", ("*",)),
]


def seed_users(url: str) -> dict[str, tuple[str, str]]:
    """The users of ``DEMO_USERS`` with random passwords: ``{role: (name, password)}``.

    The admin is added first (the installation's first user, ``by=None``), the others by
    the admin — as ``facility users add`` does it; there is no default password."""
    made: dict[str, tuple[str, str]] = {}
    with UserStore(url) as users:
        name, role, sites = DEMO_USERS[0]
        admin, secret = users.add(name, [role], sites, by=None, display_name="Demo admin")
        made[role] = (name, secret)
        by = Principal(admin.name, admin.roles, admin.sites, Source.SYSTEM)
        for name, role, sites in DEMO_USERS[1:]:
            _user, secret = users.add(name, [role], sites, by=by, display_name=f"Demo {role}")
            made[role] = (name, secret)
    return made


def seed_other_estate(url: str, site: str = "JU") -> str:
    """Another estate's ledger and one corrective order there; returns its number (for the
    estate-scope tests: a technician of JU sees this order and none of HT's)."""
    with LedgerStore(url) as ledger:
        path = next(p for p in demo_ledger_paths() if p.stem == site)
        ledger.import_file(path, user="sample")
    with WorkOrderStore(url, notifier=LogNotifier()) as orders:
        result = orders.raise_corrective(
            f"{site}-PMP-001",
            "fault_code",
            title_en="Booster pump fault",
            title_zh="生活水泵故障",
            priority="high",
        )
        return result.order.number


def demo_user_passwords(url: str) -> dict[str, tuple[str, str]]:
    """``make demo``: the demo users with fresh random passwords — created on an empty
    database, else the existing demo users' passwords are reset (they are stored only as
    hashes, so a second run cannot print the first run's). Users not of ``DEMO_USERS`` are
    left alone."""
    with UserStore(url) as users:
        if users.count() == 0:
            return seed_users(url)
        admin = users.user(DEMO_USERS[0][0])
        if admin is None or Role.ADMIN not in admin.roles:
            return {}
        by = Principal(admin.name, admin.roles, admin.sites, Source.SYSTEM)
        made: dict[str, tuple[str, str]] = {}
        for name, role, _sites in DEMO_USERS:
            if users.user(name) is not None:
                made[role] = (name, users.set_password(name, None, by=by))
        return made
