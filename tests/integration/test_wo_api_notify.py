"""A new or reassigned order reaches the technician it names (issue 13): the supervisor assigns
from the phone API, and the technician's own webhook (their user record's contact) gets the
notice with a link that opens the order on the phone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.services import MosquittoServer
from facility.config import MaintenanceConfig
from tests.integration.test_wo_api import act, order, phone
from tests.phone_support import serve_phone
from tests.support import webhook_server

PUBLIC = "https://fm.example.net"


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    with webhook_server(f"/hook/{uuid.uuid4().hex}", reply=b"") as found:
        yield found


def test_a_reassigned_order_reaches_the_technician_with_a_link(
    tmp_path_factory: pytest.TempPathFactory,
    mosquitto: MosquittoServer,
    webhook: tuple[str, list[dict[str, Any]]],
) -> None:
    hook_url, received = webhook
    with serve_phone(
        tmp_path_factory.mktemp("phone-notify"), mosquitto.url,
        maintenance=MaintenanceConfig(dashboard_url=PUBLIC, notify_mqtt=False),
        contact={"webhook": hook_url}, threads=2,
    ) as served:  # fmt: skip
        supervisor = phone(served, "supervisor")
        number = served.seed.pm
        reply = act(supervisor, number, "assign", order(supervisor, number)["version"],
                    assignee="tech2.ju")  # fmt: skip
        assert reply.status == 200, reply.body[:300]
    assert len(received) == 1  # tech2's own contact; tech.ju has none
    notice = received[0]
    assert notice["event"] == "assigned"
    assert notice["number"] == number
    assert notice["assignee"] == "tech2.ju"
    assert notice["link"] == f"{PUBLIC}/m/order/{number}"
