"""Gateway sessions are bounded (issue 9, finding 8).

An abandoned gateway session (7-day expiry, 1,000,000-message queue) grew the broker by
~128 KB/s for a week. Now the session expires after ``[gateway] session_expiry_s`` (10 min by
default), under a stable client id, and the broker we start bounds every client's queue in
bytes too. Checked from the broker's side: a client that reconnects with the gateway's id
and ``clean_start=False`` is told whether the broker still holds the session.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devtools.services import MosquittoServer
from facility.config import GatewayConfig, load_settings
from gateway.ingest_rules import SESSION_EXPIRY_S

REPO = Path(__file__).resolve().parents[2]


def _connect(
    broker: MosquittoServer,
    client_id: str,
    *,
    expiry_s: int,
    on_message: paho.CallbackOnMessage | None = None,
) -> tuple[paho.Client, bool]:
    """Connect with ``clean_start=False``; (client, whether the broker had a session)."""
    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    present: list[bool] = []
    done = threading.Event()

    def on_connect(_c: paho.Client, _u: object, flags: paho.ConnectFlags, *_: object) -> None:
        present.append(bool(flags.session_present))
        done.set()

    client.on_connect = on_connect
    if on_message is not None:
        client.on_message = on_message
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = expiry_s
    client.username_pw_set(*broker.credentials)  # the bus is closed (issue 11)
    client.connect(broker.host, broker.port, clean_start=False, properties=properties)
    client.loop_start()
    assert done.wait(10), "no CONNACK"
    return client, present[0]


def _close(client: paho.Client) -> None:
    client.disconnect()
    client.loop_stop()


def _launch(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "from facility.cli import main; main()", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_gateway_session_expiry_is_bounded_by_default() -> None:
    default = GatewayConfig().session_expiry_s
    assert default == SESSION_EXPIRY_S
    # a restart or an upgrade fits; an abandoned session is gone within the hour
    assert 60 <= default <= 3600
    assert GatewayConfig().id == load_settings(environ={}).gateway.id == "gateway-1"


async def test_broker_drops_the_gateway_session_after_the_configured_expiry(
    fresh_mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "FACILITY_MQTT__URL": fresh_mosquitto.url,
        "FACILITY_INFLUXDB__URL": "http://127.0.0.1:1",  # spools: not what is tested here
        "FACILITY_PATHS__VAR_DIR": str(tmp_path / "var"),
        "FACILITY_GATEWAY__ID": "gw-session",
        "FACILITY_GATEWAY__METRICS_PORT": "0",
        "FACILITY_GATEWAY__SESSION_EXPIRY_S": "2",
    }
    process = _launch(["gateway", "run", "--any-asset"], env, tmp_path)
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 30)
        while line and not line.startswith(b"gateway gw-session:"):
            line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 30)
        assert line.startswith(b"gateway gw-session:"), line
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
    # gone once the configured expiry has passed (it held a subscription: it was a session)
    await asyncio.sleep(4)
    client, present = await asyncio.to_thread(_connect, fresh_mosquitto, "gw-session", expiry_s=0)
    _close(client)
    assert present is False


async def test_broker_bounds_an_offline_session_queue_in_bytes(tmp_path: Path) -> None:
    bound = 64 * 1024
    payload = b"x" * 1024
    received: list[bytes] = []

    def on_message(_c: paho.Client, _u: object, message: paho.MQTTMessage) -> None:
        received.append(bytes(message.payload))

    with MosquittoServer(tmp_path / "mqtt", max_queued_bytes=bound) as broker:

        def offline_then_back() -> bool:
            subscriber, _ = _connect(broker, "slow-sub", expiry_s=300)
            subscriber.subscribe("bound/test", qos=1)
            _close(subscriber)  # away, session kept: the broker queues for it
            publisher, _ = _connect(broker, "pub", expiry_s=0)
            for _ in range(1000):
                publisher.publish("bound/test", payload, qos=1).wait_for_publish(10)
            _close(publisher)
            subscriber, present = _connect(broker, "slow-sub", expiry_s=0, on_message=on_message)
            try:
                threading.Event().wait(3)  # whatever the broker kept has arrived by now
            finally:
                _close(subscriber)
            return present

        assert await asyncio.to_thread(offline_then_back)
    assert received
    # in-flight slots (max_inflight_messages 100) plus the byte-bounded queue, not all 1000
    assert len(received) < 100 + bound // len(payload) + 20, len(received)
