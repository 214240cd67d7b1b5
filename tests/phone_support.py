"""Orders and people for the technician's phone tests (issue 13): a JU technician with a
preventive order (a checklist of every kind) and a corrective one, a second technician with
an order of their own, a supervisor, and the demo users of dashboards.sample."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dashboards.app import DashboardServer
from dashboards.queries import Queries
from dashboards.sample import seed_users
from device_profiles.models import ChecklistKind, Priority
from facility.config import DatabaseConfig, MaintenanceConfig, MqttConfig, PathsConfig, Settings
from maintenance.identity.roles import Principal, Role, Source
from maintenance.identity.store import UserStore
from maintenance.ledger_files import demo_ledger_paths, demo_sites
from maintenance.store import LedgerStore
from maintenance.wo_rows import NewOrder, insert_orders
from maintenance.wo_store import LogNotifier, WorkOrderStore
from maintenance.workorders import ChecklistLine, WoKind

PM_CHECKLIST = [
    ChecklistLine(1, "Check for leaks at the mechanical seal", "检查机械密封有无渗漏",
                  ChecklistKind.PASS_FAIL),
    ChecklistLine(2, "Motor current at rated flow", "额定流量下电机电流", ChecklistKind.NUMBER,
                  unit="A", low=0, high=40),
    ChecklistLine(3, "Run-hour meter", "运行小时读数", ChecklistKind.METER, point="run_hours"),
    ChecklistLine(4, "Remarks", "备注", ChecklistKind.TEXT, required=False),
    ChecklistLine(5, "Photo of the pump set", "水泵照片", ChecklistKind.PHOTO),
]  # fmt: skip


@dataclass
class PhoneSeed:
    users: dict[str, tuple[str, str]]  # role (and "tech2") -> (name, password)
    pm: str  # JU preventive order assigned to tech.ju
    corrective: str  # JU corrective order assigned to tech.ju
    other: str  # JU corrective order assigned to tech2.ju
    unassigned: str  # JU corrective order assigned to nobody


def seed_phone(url: str, *, contact: dict[str, Any] | None = None) -> PhoneSeed:
    with LedgerStore(url) as ledger:
        ledger.save_sites(demo_sites(), user="test")
        for path in demo_ledger_paths():
            if path.stem == "JU":
                ledger.import_file(path, user="test")
    users = seed_users(url)
    with UserStore(url) as people:
        admin = people.user("admin")
        assert admin is not None
        by = Principal(admin.name, admin.roles, admin.sites, Source.SYSTEM)
        _user, secret = people.add(
            "tech2.ju", [Role.TECHNICIAN.value], ["JU"], by=by, display_name="Second technician",
            contact=contact,
        )  # fmt: skip
        users["tech2"] = ("tech2.ju", secret)
    now = datetime.now(UTC)
    with WorkOrderStore(url, notifier=LogNotifier()) as store:

        def corrective(asset_no: str, condition: str, title: str) -> str:
            result = store.raise_corrective(
                asset_no, condition, title_en=title, title_zh=title, priority="high"
            )
            return result.order.number

        fault = corrective("JU-PMP-001", "fault_code", "Booster pump fault")
        other = corrective("JU-PMP-003", "fault_code", "Booster pump 3 fault")
        unassigned = corrective("JU-PMP-005", "fault_code", "Booster pump 5 fault")
        with store.db.transaction(write=True) as tx:
            (row,) = insert_orders(
                tx,
                [
                    NewOrder(
                        site="JU", kind=WoKind.PREVENTIVE, asset_no="JU-PMP-002",
                        title_en="Monthly pump check", title_zh="水泵月度检查",
                        priority=Priority.MEDIUM, created_at=now, created_by="scheduler",
                        response_due=now + timedelta(hours=4),
                        completion_due=now + timedelta(hours=72),
                        due_at=now - timedelta(days=2),  # the slot began before: not "due"
                        checklist=PM_CHECKLIST,
                    )
                ],
                {},
            )  # fmt: skip
            pm = row.number
        store.assign(pm, "tech.ju", actor="supervisor")
        store.assign(fault, "tech.ju", actor="supervisor")
        store.assign(other, "tech2.ju", actor="supervisor")
    return PhoneSeed(users, pm, fault, other, unassigned)


def jpeg(size: int = 2048) -> bytes:
    """A small JPEG-looking file (magic bytes and padding): what the server checks is the
    size and the first bytes, never the name or the claimed type."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * (size // 256) + b"\xff\xd9"


def png(width: int = 64, height: int = 48) -> bytes:
    """A real PNG (a colour gradient) the browser can decode and redraw on its canvas."""
    import struct
    import zlib

    raw = b"".join(
        b"\x00" + b"".join(bytes((x * 4 % 256, y * 5 % 256, 128)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@dataclass
class Served:
    """The dashboard served over a seeded database: its address, the database and the seed."""

    url: str
    db_url: str
    var_dir: Path
    seed: PhoneSeed


@contextmanager
def serve_phone(
    var_dir: Path,
    mqtt_url: str,
    *,
    maintenance: MaintenanceConfig | None = None,
    contact: dict[str, Any] | None = None,
    threads: int = 4,
) -> Iterator[Served]:
    """The real app (waitress) over a SQLite database in ``var_dir`` seeded by ``seed_phone``
    (``contact``: the second technician's channels)."""
    settings = Settings(
        database=DatabaseConfig(url=f"sqlite:///{var_dir / 'facility.db'}"),
        mqtt=MqttConfig(url=mqtt_url),
        paths=PathsConfig(var_dir=var_dir),
        maintenance=maintenance or MaintenanceConfig(),
    )
    seed = seed_phone(settings.database_url, contact=contact)
    queries = Queries(settings, ack_timeout_s=1.0)
    server = DashboardServer(settings, "127.0.0.1", 0, queries=queries, threads=threads).start()
    try:
        yield Served(server.url, settings.database_url, var_dir, seed)
    finally:
        server.stop()
