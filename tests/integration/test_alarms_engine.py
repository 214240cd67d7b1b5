"""The alarm engine end to end on real parts: the simulated pool controller on Modbus TCP,
the collector publishing to a real mosquitto, the standalone engine with its SQLite journal,
a real SMTP server and a real webhook server.

A dry-run fault injected in the simulator raises HT-PDP-001/dry_run on MQTT within 2 s of
the poll that saw it, notifications go out, an operator acknowledges it (over MQTT, as
``facility alarms ack`` does), the engine is restarted in the middle and does not raise it
again, the fault is removed and the latched alarm clears and is reset; the journal holds
every step.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collectors.endpoints import apply_endpoint_table
from collectors.service import CollectorService
from device_profiles import load_library
from devtools.services import MosquittoServer
from facility.mqtt import BrokerSettings, MqttLink
from facility.payload import decode
from facility.types import Asset
from gateway.alarms.alarmfile import parse_alarm_file
from gateway.alarms.client import send_command
from gateway.alarms.core import Command
from gateway.alarms.definitions import compile_alarms
from gateway.alarms.notify import SmtpSettings
from gateway.alarms.service import AlarmService
from gateway.alarms.state import AlarmCommandError
from gateway.alarms.store import AlarmStore
from maintenance.ledger_files import demo_ledger_paths, read_ledger_file
from simulators.estate import Estate
from tests.integration.test_alarms_notify import HookServer, MailServer
from tests.support import sign_in, wait_until

pytest_plugins = ["tests.integration.test_alarms_notify"]  # smtp_server, hook_server fixtures

PROFILES = load_library()
JUNE = datetime(2026, 6, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
POOL = "HT-PDP-001"
DRY = f"{POOL}/dry_run"


def pool_asset() -> list[Asset]:
    ht = next(p for p in demo_ledger_paths() if p.stem == "HT")
    return [a for a in read_ledger_file(ht) if a.asset_no == POOL]


@pytest.fixture
async def estate() -> AsyncIterator[Estate]:
    async with Estate(
        pool_asset(), PROFILES, seed=5, speed=1, start=JUNE, port_mode="ephemeral"
    ) as running:
        yield running


class Bus:
    """What a dashboard would see: device messages, retained alarm states, alarm events."""

    def __init__(self) -> None:
        self.polls: list[tuple[float, dict[str, Any]]] = []
        self.states: dict[str, tuple[float, dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []

    def on_message(self, topic: str, payload: bytes) -> None:
        now = time.monotonic()
        if topic.startswith("facility/v1/alarms/"):
            state = json.loads(payload)
            self.states[state["alarm_id"]] = (now, state)
        elif topic.startswith("facility/v1/events/alarms/"):
            self.events.append(json.loads(payload))
        elif topic == f"facility/v1/HT/{POOL}":
            message = decode(topic, payload)
            self.polls.append((now, {r.point: r.value for r in message.readings}))

    def state(self, alarm_id: str) -> str | None:
        found = self.states.get(alarm_id)
        return found[1]["state"] if found else None

    def events_of(self, alarm_id: str) -> list[str]:
        return [e["event"] for e in self.events if e["alarm_id"] == alarm_id]


def journal_kinds(url: str) -> list[str]:
    with AlarmStore(url) as store:
        return [r.kind.value for r in store.journal(alarm_id=DRY)]


async def start(service: AlarmService) -> asyncio.Task[None]:
    ready = asyncio.Event()
    task = asyncio.create_task(service.run(ready))
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait({task, waiter}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task.done():
        task.result()
    assert ready.is_set()
    return task


async def stop(*tasks: asyncio.Task[None]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_dry_run_fault_from_simulator_to_journal_and_back(
    estate: Estate,
    mosquitto: MosquittoServer,
    smtp_server: MailServer,
    hook_server: HookServer,
    tmp_path: Path,
) -> None:
    broker = BrokerSettings.from_url(mosquitto.url)
    url = f"sqlite:///{tmp_path / 'facility.db'}"
    alarm_file = parse_alarm_file(
        f"""
notifications:
  channels:
    - {{name: centre, type: email, to: [centre@estate.test]}}
    - {{name: ht_group, type: wecom, url: "{hook_server.url("/cgi-bin/webhook/send?key=HT")}"}}
  rules:
    - {{name: pool, classes: [PDP], priorities: [critical, high], channels: [centre, ht_group]}}
""",
        "alarms.yaml",
    )
    assets = pool_asset()
    alarm_set = compile_alarms(assets, PROFILES, alarm_file)

    def service() -> AlarmService:
        return AlarmService(
            alarm_set,
            broker,
            AlarmStore(url),
            service_id="test-alarms",
            smtp=SmtpSettings(smtp_server.host, smtp_server.port, "alarms@estate.test"),
            tick_s=0.2,
        )

    # the person acting: a supervisor (resetting a latched alarm needs the role)
    token = sign_in(url, "li.na", ["supervisor"], ["HT"])
    bus = Bus()
    watcher = MqttLink(
        broker,
        "test-alarm-watcher",
        subscriptions=[
            ("facility/v1/alarms/HT/#", 1),
            ("facility/v1/events/alarms/HT", 1),
            (f"facility/v1/HT/{POOL}", 1),
        ],
        on_message=bus.on_message,
    )
    table = {no: info.to_json() for no, info in estate.endpoints.items()}
    collector = CollectorService(
        apply_endpoint_table(assets, table),
        PROFILES,
        broker,
        tmp_path / "collector.spool",
        collector_id="test-alarm-collector",
        seed=1,
    )
    tasks = [asyncio.create_task(watcher.run()), asyncio.create_task(collector.run())]
    engine = service()
    engine_task = await start(engine)
    try:
        await wait_until(lambda: len(bus.polls) >= 3, 20)
        assert bus.state(DRY) is None  # never raised: no retained state, i.e. normal

        # 1. the fault: raised on MQTT within 2 s of the poll that saw it
        await estate.inject(POOL, "dry_run", True)
        await wait_until(lambda: any(p[1]["dry_run_trip"] for p in bus.polls), 10)
        seen = next(t for t, values in bus.polls if values["dry_run_trip"])
        await wait_until(lambda: bus.state(DRY) == "unack", 2.0)
        raised_at = bus.states[DRY][0]
        print(f"dry_run raised on MQTT {raised_at - seen:.3f} s after the poll saw it")
        assert "raise" in bus.events_of(DRY)
        assert journal_kinds(url)[:1] == ["raise"]

        # 2. notifications reach the real SMTP and webhook servers
        await wait_until(lambda: smtp_server.handler.messages and hook_server.requests, 15)
        assert "HT-PDP-001" in smtp_server.handler.messages[0]["Subject"]
        assert "排水泵干转跳闸" in hook_server.requests[0].body["markdown"]["content"]

        # 3. acknowledged by an operator, through the engine
        ack = Command("ack", DRY, "li.na", "sump checked")
        state = await send_command(broker, ack, token=token)
        assert state["state"] == "acked"
        await wait_until(lambda: bus.state(DRY) == "acked", 5)
        with pytest.raises(AlarmCommandError, match=r"already acknowledged by li\.na"):
            await send_command(broker, Command("ack", DRY, "li.na"), token=token)

        # 4. the engine restarts in the middle: it does not raise the alarm again
        await stop(engine_task)
        engine.store.close()
        raises_before = bus.events_of(DRY).count("raise")
        engine = service()
        engine_task = await start(engine)
        assert engine.engine is not None
        await wait_until(
            lambda: engine.engine is not None and engine.engine.core.stats.messages >= 3, 15
        )
        assert engine.engine.status(DRY).state.value == "acked"
        assert bus.state(DRY) == "acked"
        assert bus.events_of(DRY).count("raise") == raises_before
        assert journal_kinds(url).count("raise") == 1

        # 5. the fault is removed and the trip reset on site: the latched alarm clears
        await estate.inject(POOL, "dry_run", False)
        estate.model(POOL).write("pump_command", True)  # a command edge resets the trip
        await wait_until(lambda: bus.state(DRY) == "latched", 15)
        reset = Command("reset", DRY, "li.na", "reset on site")
        state = await send_command(broker, reset, token=token)
        assert state["state"] == "normal"
        await wait_until(lambda: bus.state(DRY) == "normal", 5)
    finally:
        await stop(engine_task, *tasks)
        if engine.store is not None:
            engine.store.close()

    steps = [k for k in journal_kinds(url) if k not in ("notified", "notify_failed")]
    assert steps == ["raise", "ack", "clear", "reset"]
    with AlarmStore(url) as store:
        entries = {r.kind.value: r for r in store.journal(alarm_id=DRY)}
        assert (entries["ack"].user, entries["ack"].comment) == ("li.na", "sump checked")
        notified = sorted(r.detail["channel"] for r in store.journal(events=["notified"]))
        assert notified == ["centre", "ht_group"]
        (current,) = store.current(site="HT", states=["normal"], asset_no=POOL)
        assert current.alarm_id == DRY
