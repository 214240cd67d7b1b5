"""A technician hears of an assigned order: a real local HTTP server (the webhook a WeCom or
DingTalk robot would be) and a real mosquitto receive the notice; a dead channel never fails
the assignment."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.services import MosquittoServer
from facility.mqtt import BrokerSettings
from facility.topics import workorder_topic
from maintenance.wo_notify import FanOut, MqttNotifier, WebhookNotifier
from maintenance.wo_store import WorkOrderStore
from tests.support import seed_ledger, webhook_server


@pytest.fixture
def url(tmp_path: Path) -> str:
    return seed_ledger(f"sqlite:///{tmp_path / 'facility.db'}", "HT")


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    with webhook_server() as found:  # a WeCom robot's answer
        yield found


def test_assignment_reaches_webhook_and_mqtt(
    url: str, webhook: tuple[str, list[dict[str, Any]]], mosquitto: MosquittoServer
) -> None:
    import paho.mqtt.client as paho

    hook_url, received = webhook
    got: list[dict[str, Any]] = []
    watcher = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    watcher.on_message = lambda c, u, m: got.append(json.loads(m.payload))
    watcher.username_pw_set(*mosquitto.credentials)  # the bus is closed (issue 11)
    watcher.connect(mosquitto.host, mosquitto.port)
    watcher.subscribe(workorder_topic("HT"), 1)
    watcher.loop_start()
    try:
        notifier = FanOut(
            [
                WebhookNotifier(hook_url, "wecom"),
                MqttNotifier(BrokerSettings.from_url(mosquitto.url)),
            ]
        )
        with WorkOrderStore(url, notifier=notifier) as store:
            order = store.raise_corrective(
                "HT-PMP-001",
                "manual:leak",
                title_en="Seal leaking",
                title_zh="机械密封漏水",
                priority="high",
            ).order
            store.assign(order.number, "zhang.wei", actor="li.na")
        deadline = time.monotonic() + 10
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        watcher.loop_stop()
        watcher.disconnect()
    events = [(n["event"], n["assignee"]) for n in got]
    assert ("assigned", "zhang.wei") in events
    assigned = next(n for n in got if n["event"] == "assigned")
    assert assigned["number"] == order.number
    assert assigned["asset_no"] == "HT-PMP-001"
    # the robot got WeCom's markdown shape, naming the order and the technician
    robot = [r for r in received if "zhang.wei" in r["markdown"]["content"]]
    assert robot
    assert robot[0]["msgtype"] == "markdown"
    assert order.number in robot[0]["markdown"]["content"]


def test_a_dead_channel_never_fails_the_order(url: str) -> None:
    dead = FanOut(
        [
            WebhookNotifier("http://127.0.0.1:1/nowhere", "generic", timeout_s=1),
            MqttNotifier(BrokerSettings.from_url("mqtt://127.0.0.1:1")),
        ]
    )
    with WorkOrderStore(url, notifier=dead) as store:
        order = store.raise_corrective(
            "HT-PMP-002",
            "manual:noise",
            title_en="Bearing noise",
            title_zh="轴承异响",
            priority="medium",
        ).order
        assigned = store.assign(order.number, "zhang.wei")
    assert assigned.assignee == "zhang.wei"
    assert assigned.state.value == "assigned"
