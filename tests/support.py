"""Small helpers shared by tests."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

from facility.types import (
    DEVICE_CLASS_SYSTEM,
    Asset,
    AssetStatus,
    Criticality,
    DeviceClass,
    Endpoint,
)

if TYPE_CHECKING:
    from maintenance.wo_store import WorkOrderStore


async def wait_until(predicate: Callable[[], bool], within: float) -> None:
    """Poll ``predicate`` until true; TimeoutError after ``within`` seconds.

    Polling (not an Event) because the conditions are set from other threads (paho's
    network thread) or other processes.
    """
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


def make_asset(asset_no: str, profile: str, endpoint: Endpoint) -> Asset:
    """A minimal in-service asset for tests (the ledger's own validation is tested apart)."""
    site, code, _ = asset_no.split("-")
    device_class = DeviceClass(code)
    return Asset(
        asset_no=asset_no,
        site=site,
        device_class=device_class,
        name_en=asset_no,
        name_zh=asset_no,
        building="B1",
        zone="test",
        system=DEVICE_CLASS_SYSTEM[device_class],
        profile=profile,
        make="sim",
        model="sim",
        serial=asset_no,
        install_date=None,
        criticality=Criticality.MEDIUM,
        status=AssetStatus.IN_SERVICE,
        endpoint=endpoint,
    )


# One valid ledger row (a pump behind the HT pump gateway), for tests to vary.
PUMP_ROW: dict[str, str] = {
    "asset_no": "HT-PMP-001",
    "name_en": "Building 1 booster pump 1#",
    "name_zh": "1栋生活水泵1#",
    "site": "HT",
    "building": "B1",
    "zone": "Pump room",
    "system": "water_supply",
    "device_class": "PMP",
    "profile": "vfd-booster-pump",
    "make": "Grundfos",
    "model": "Hydro MPC-E",
    "serial": "GF21000001",
    "install_date": "2021-05-04",
    "criticality": "high",
    "status": "in_service",
    "protocol": "modbus",
    "host": "127.0.0.1",
    "port": "15021",
    "unit_id": "1",
    "opcua_url": "",
    "node_root": "",
    "parent_asset_no": "",
}


# --- people: users with roles and a session, in a test database --------------------------------

TEST_PASSWORD = "correct horse battery staple"
# the conftest fixture signed_in_as: (url, name, roles, sites) -> token, set in $FACILITY_TOKEN
SignIn = Callable[..., str]
TEST_ADMIN = "test.admin"


def sign_in(
    url: str,
    name: str,
    roles: Sequence[str] = ("operator",),
    sites: Sequence[str] = ("*",),
    *,
    kind: str = "cli",
    opened_at: datetime | None = None,
    ttl: timedelta = timedelta(hours=1),
) -> str:
    """The token of a session of ``name`` (added with ``roles`` on ``sites`` if new) in the
    database at ``url``, as `facility login` (kind "cli") or the dashboard ("browser") would
    open it. ``opened_at`` in the past with a short ``ttl`` gives an expired token."""
    from maintenance.identity.roles import Source
    from maintenance.identity.store import UserStore

    clock = (lambda: opened_at) if opened_at is not None else None
    with UserStore(url, clock=clock) as store:
        if not store.count():
            store.add(TEST_ADMIN, ["admin"], by=None, password=TEST_PASSWORD)
        if store.user(name) is None:
            admin = store.authenticate(TEST_ADMIN, TEST_PASSWORD, source=Source.CLI)
            store.add(name, roles, sites, by=admin, password=TEST_PASSWORD)
        person = store.authenticate(name, TEST_PASSWORD, source=Source.CLI)
        return store.open_session(person, kind=kind, ttl=ttl).token


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Exit code, standard output and standard error of one `facility` command."""
    from facility.cli import main

    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def seed_ledger(url: str, *estates: str) -> str:
    """The demo sites and the demo ledger of ``estates`` (e.g. "HT") in the database at
    ``url``; returns ``url``."""
    from maintenance.ledger_files import demo_ledger_paths, demo_sites
    from maintenance.store import LedgerStore

    with LedgerStore(url) as ledger:
        ledger.save_sites(demo_sites(), user="test")
        for path in demo_ledger_paths():
            if path.stem in estates:
                ledger.import_file(path, user="test")
    return url


WECOM_OK = b'{"errcode": 0, "errmsg": "ok"}'


@contextmanager
def webhook_server(
    path: str = "/robot/send?key=secret", reply: bytes = WECOM_OK
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A real local HTTP server standing for a chat robot's webhook: its address (with
    ``path``) and the JSON bodies posted to it, each answered with ``reply``."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            if reply:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}{path}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def work_through(store: WorkOrderStore, number: str, at: datetime) -> None:
    """Start order ``number``, answer every checklist item as passed and complete it at
    ``at`` (started 30 min and answered 10 min before)."""
    order = store.get(number)
    store.start(number, at=at - timedelta(minutes=30))
    for item in order.checklist:
        if item.kind.value == "pass_fail":
            answer = "pass"
        elif item.kind.value in ("number", "meter"):
            answer = str(item.low if item.low is not None else item.high or 1)
        elif item.kind.value == "photo":
            answer = "photo.jpg"
        else:
            answer = "ok"
        store.record(number, item.position, answer, at=at - timedelta(minutes=10))
    store.complete(number, at=at)
