"""The real-server fixtures work: influxd stores and answers, mosquitto delivers, both survive
a kill and restart on the same port, and a server that cannot start says why."""

from __future__ import annotations

import json
import queue
import socket
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from devtools.services import InfluxServer, MosquittoServer
from facility.errors import CommError

# -- InfluxDB over its v1 HTTP API, with nothing but the standard library --------------------


def write_lines(server: InfluxServer, db: str, lines: str) -> int:
    query = urllib.parse.urlencode({"db": db, "precision": "s"})
    request = urllib.request.Request(
        f"{server.url}/write?{query}", data=lines.encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        status: int = response.status
        return status


def select(server: InfluxServer, db: str, q: str) -> list[list[Any]]:
    query = urllib.parse.urlencode({"db": db, "q": q, "epoch": "s"})
    with urllib.request.urlopen(f"{server.url}/query?{query}", timeout=10) as response:
        answer = json.load(response)
    series = answer["results"][0].get("series", [])
    return [row for s in series for row in s["values"]]


LINES = (
    'pump,site=HT,asset_no=HT-PMP-001 discharge_pressure=4.2,run_state=1i,quality="good" '
    "1795600000\n"
    'pump,site=HT,asset_no=HT-PMP-001 discharge_pressure=4.5,run_state=1i,quality="good" '
    "1795600001\n"
)


def test_influxd_stores_line_protocol_and_answers_influxql(
    influxd: InfluxServer, influx_db: str
) -> None:
    assert influxd.url.startswith("http://127.0.0.1:")
    assert write_lines(influxd, influx_db, LINES) == 204

    rows = select(
        influxd,
        influx_db,
        "SELECT discharge_pressure, run_state, quality FROM pump WHERE asset_no = 'HT-PMP-001'",
    )

    assert rows == [[1795600000, 4.2, 1, "good"], [1795600001, 4.5, 1, "good"]]


def test_influx_db_fixture_gives_an_empty_database_of_its_own(
    influxd: InfluxServer, influx_db: str
) -> None:
    databases = influxd.query("SHOW DATABASES")["results"][0]["series"][0]["values"]
    assert [influx_db] in databases
    assert select(influxd, influx_db, "SELECT * FROM pump") == []


def test_influxd_killed_and_restarted_on_the_same_port_keeps_its_data(
    fresh_influxd: InfluxServer,
) -> None:
    fresh_influxd.create_database("plant")
    write_lines(fresh_influxd, "plant", LINES)
    url = fresh_influxd.url

    fresh_influxd.kill()
    assert not fresh_influxd.running
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/ping", timeout=2)

    fresh_influxd.restart()

    assert fresh_influxd.url == url
    rows = select(fresh_influxd, "plant", "SELECT discharge_pressure FROM pump")
    assert rows == [[1795600000, 4.2], [1795600001, 4.5]]


# -- MQTT 5 with paho-mqtt 2 -------------------------------------------------------------------


@contextmanager
def mqtt_client(broker: MosquittoServer) -> Iterator[tuple[mqtt.Client, queue.Queue[Any]]]:
    """A connected MQTT 5 client whose received messages land in the returned queue."""
    received: queue.Queue[Any] = queue.Queue()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"test-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )
    client.on_message = lambda _client, _userdata, message: received.put(message)
    connected: queue.Queue[ReasonCode] = queue.Queue()

    def on_connect(
        _c: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Properties | None
    ) -> None:
        connected.put(reason)

    client.on_connect = on_connect
    client.username_pw_set(*broker.credentials)  # the bus is closed (issue 11)
    client.connect(broker.host, broker.port, keepalive=10)
    client.loop_start()
    try:
        assert not connected.get(timeout=10).is_failure
        yield client, received
    finally:
        client.disconnect()
        client.loop_stop()


def publish_retained(broker: MosquittoServer, topic: str, payload: bytes) -> None:
    with mqtt_client(broker) as (publisher, _):
        info = publisher.publish(topic, payload, qos=1, retain=True)
        info.wait_for_publish(timeout=10)  # publish() only queues (PITFALLS.md)
        assert info.is_published()


def receive_one(broker: MosquittoServer, topic: str) -> mqtt.MQTTMessage:
    with mqtt_client(broker) as (subscriber, received):
        subscriber.subscribe(topic, qos=1)
        message: mqtt.MQTTMessage = received.get(timeout=10)
        return message


def test_mosquitto_delivers_a_retained_qos1_message_to_a_later_subscriber(
    mosquitto: MosquittoServer,
) -> None:
    topic = f"facility/v1/HT/HT-PMP-{uuid.uuid4().hex[:6]}"
    assert mosquitto.url.startswith("mqtt://facility-test:")
    assert mosquitto.url.endswith(f"@127.0.0.1:{mosquitto.port}")

    publish_retained(mosquitto, topic, b'{"run_state": 1}')
    message = receive_one(mosquitto, topic)

    assert (message.topic, message.payload, message.qos, message.retain) == (
        topic,
        b'{"run_state": 1}',
        1,
        True,
    )


def test_mosquitto_killed_refuses_clients_and_works_again_after_restart(
    fresh_mosquitto: MosquittoServer,
) -> None:
    topic = "facility/v1/HT/HT-PDP-001"
    publish_retained(fresh_mosquitto, topic, b"before")
    fresh_mosquitto.restart()  # graceful: the retained state is saved under data_dir
    assert receive_one(fresh_mosquitto, topic).payload == b"before"

    fresh_mosquitto.kill()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    with pytest.raises(ConnectionRefusedError):
        client.connect(fresh_mosquitto.host, fresh_mosquitto.port, keepalive=10)

    fresh_mosquitto.restart()

    publish_retained(fresh_mosquitto, topic, b"after")
    assert receive_one(fresh_mosquitto, topic).payload == b"after"


# -- a server that cannot start says why -------------------------------------------------------


@pytest.mark.parametrize("server_class", [InfluxServer, MosquittoServer])
def test_a_server_that_cannot_bind_fails_with_its_log_tail(
    server_class: type[InfluxServer] | type[MosquittoServer], tmp_path: Path
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        server = server_class(tmp_path / "server", port=port, startup_timeout=10)

        with pytest.raises(CommError) as error:
            server.start()

    message = str(error.value)
    assert f"127.0.0.1:{port}" in message
    assert "address already in use" in message.lower()
    assert str(server.log_path) in message
    assert not server.running
