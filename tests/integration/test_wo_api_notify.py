"""A new or reassigned order reaches the technician it names (issue 13): the supervisor assigns
from the phone API, and the technician's own webhook (their user record's contact) gets the
notice with a link that opens the order on the phone."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dashboards.app import DashboardServer
from dashboards.queries import Queries
from devtools.services import MosquittoServer
from facility.config import DatabaseConfig, MaintenanceConfig, MqttConfig, PathsConfig, Settings
from tests.integration.test_wo_api import Served as ApiServed
from tests.integration.test_wo_api import act, order, phone
from tests.phone_support import seed_phone

PUBLIC = "https://fm.example.net"


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook/{uuid.uuid4().hex}", received
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_a_reassigned_order_reaches_the_technician_with_a_link(
    tmp_path_factory: pytest.TempPathFactory,
    mosquitto: MosquittoServer,
    webhook: tuple[str, list[dict[str, Any]]],
) -> None:
    hook_url, received = webhook
    var_dir = tmp_path_factory.mktemp("phone-notify")
    settings = Settings(
        database=DatabaseConfig(url=f"sqlite:///{var_dir / 'facility.db'}"),
        mqtt=MqttConfig(url=mosquitto.url),
        paths=PathsConfig(var_dir=var_dir),
        maintenance=MaintenanceConfig(dashboard_url=PUBLIC, notify_mqtt=False),
    )
    seed = seed_phone(settings.database_url, contact={"webhook": hook_url})
    server = DashboardServer(
        settings, "127.0.0.1", 0, queries=Queries(settings, ack_timeout_s=1.0), threads=2
    ).start()
    try:
        served = ApiServed(server.url, settings.database_url, var_dir, seed)
        supervisor = phone(served, "supervisor")
        number = seed.pm
        reply = act(supervisor, number, "assign", order(supervisor, number)["version"],
                    assignee="tech2.ju")  # fmt: skip
        assert reply.status == 200, reply.body[:300]
    finally:
        server.stop()
    assert len(received) == 1  # tech2's own contact; tech.ju has none
    notice = received[0]
    assert notice["event"] == "assigned"
    assert notice["number"] == number
    assert notice["assignee"] == "tech2.ju"
    assert notice["link"] == f"{PUBLIC}/m/order/{number}"
