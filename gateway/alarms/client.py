"""Send an operator command to the running alarm engine over MQTT and wait for its answer.

The engine that owns an alarm's state (the gateway, or ``facility alarms run``) listens on
``facility/v1/ctl/alarm-commands/<site>``; this client publishes the command with a private reply
topic and waits for the reply, so ``facility alarms ack`` prints exactly what the engine did
— or its reason for refusing — and fails clearly when no engine is running.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import asdict
from typing import Any

from facility.deadline import within
from facility.errors import CommError, ProtocolError
from facility.limits import COMMAND_MAX_BYTES, COMMAND_MAX_DEPTH, JsonLimitError, load_json
from facility.mqtt import BrokerSettings, MqttLink
from facility.topics import alarm_command_topic, alarm_reply_prefix
from facility.types import ASSET_NO_RE
from gateway.alarms.core import Command
from gateway.alarms.state import AlarmCommandError
from gateway.alarms.watchdog import SYSTEM_SITE, service_of


def site_of(alarm_id: str) -> str:
    """The site of ``<ASSET_NO>/<alarm>``, or ``SYS`` for a service's system alarm
    (``SYS-COL-collector-1/service``: acknowledged like any other, by people who see every
    estate); AlarmCommandError for anything else."""
    if service_of(alarm_id) is not None:
        return SYSTEM_SITE
    asset_no, _, name = alarm_id.partition("/")
    match = ASSET_NO_RE.match(asset_no)
    if match is None or not name:
        raise AlarmCommandError(
            f"alarm id {alarm_id!r}: expected <ASSET_NO>/<alarm>, e.g. HT-PDP-001/dry_run, or "
            "a system alarm, e.g. SYS-COL-collector-1/service"
        )
    return match["site"]


async def send_command(
    broker: BrokerSettings,
    command: Command,
    *,
    token: str | None = None,
    timeout_s: float = 10.0,
) -> dict[str, Any]:
    """The engine's answer (``state``); AlarmCommandError if it refused, CommError if no
    broker or no engine answered in time. ``token`` is the acting person's session or CLI
    token: the engine resolves it to the person and checks their role and estates
    (docs/decisions/005-identity.md)."""
    site = site_of(command.alarm_id)
    request_id = uuid.uuid4().hex
    reply_topic = f"{alarm_reply_prefix(broker.username)}/{request_id}"
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bytes] = loop.create_future()

    def settle(payload: bytes) -> None:
        if not answer.done():
            answer.set_result(payload)

    def on_message(topic: str, payload: bytes) -> None:
        if topic == reply_topic:
            loop.call_soon_threadsafe(settle, payload)

    link = MqttLink(
        broker,
        f"alarm-client-{request_id[:12]}",
        subscriptions=[(reply_topic, 1)],
        on_message=on_message,
        backoff_max_s=2.0,
    )
    task = asyncio.create_task(link.run())
    try:
        try:
            await within(link.connected.wait(), timeout_s)
        except TimeoutError:
            raise CommError(
                f"cannot reach the MQTT broker at {broker.host}:{broker.port} "
                f"({link.stats.last_error or 'no answer'})"
            ) from None
        body = {**asdict(command), "id": request_id, "reply_to": reply_topic}
        if token is not None:
            body["auth"] = token
        topic = alarm_command_topic(site)
        # the subscription was sent first on this connection: the broker has it before this
        await link.publish(topic, json.dumps(body, ensure_ascii=False).encode())
        try:
            payload = await within(answer, timeout_s)
        except TimeoutError:
            raise CommError(
                f"no alarm engine answered on {topic} within {timeout_s:g} s; is the gateway "
                f"or `facility alarms run` running for site {site}?"
            ) from None
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    try:
        reply = load_json(
            payload, what="engine reply", max_bytes=COMMAND_MAX_BYTES, max_depth=COMMAND_MAX_DEPTH
        )
    except JsonLimitError as exc:
        raise ProtocolError(f"the alarm engine's reply on {reply_topic}: {exc}") from None
    if not isinstance(reply, dict):
        raise ProtocolError(f"the alarm engine's reply on {reply_topic}: expected a JSON object")
    if not reply.get("ok"):
        raise AlarmCommandError(str(reply.get("error", "refused")))
    state: dict[str, Any] = reply.get("state", {})
    return state
