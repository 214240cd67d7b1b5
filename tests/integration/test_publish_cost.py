"""The collector's steady state is cheap (issue 16): with the broker answering, polls are
published from memory — no SQLite write and no worker-thread hop per message — and still
nothing is lost when the publisher stops with polls unacknowledged, or the broker is away.

Before: every poll went memory → spool (one thread hop, one SQLite put) → broker → spool ack
and sent log (another hop, two more writes): about 1.3 ms of collector CPU per poll.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.publisher import SpooledPublisher
from collectors.sentlog import SentLog
from devtools.services import MosquittoServer
from facility.mqtt import BrokerSettings, MqttLink
from facility.payload import DeviceMessage, decode
from facility.spool import Spool
from facility.types import Quality, Reading
from tests.support import wait_until

ASSETS = [f"HT-PMP-{n:03d}" for n in range(1, 11)]


def message(asset_no: str, seq: int) -> DeviceMessage:
    now = datetime.now(UTC)
    reading = Reading("HT", asset_no, "current", float(seq), "A", Quality.GOOD, None, now)
    return DeviceMessage("HT", asset_no, "PMP", seq, now, (reading,), {"comm_ok": True})


def spooled_ever(path: Path) -> int:
    """How many records were ever put into a spool file (AUTOINCREMENT keeps the count)."""
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'records'").fetchone()
    return int(row[0]) if row else 0


class Subscriber:
    def __init__(self, broker: BrokerSettings) -> None:
        self.seqs: dict[str, list[int]] = {a: [] for a in ASSETS}
        self.link = MqttLink(
            broker,
            "test-cost-sub",
            subscriptions=[("facility/v1/HT/#", 1)],
            on_message=self.on_message,
            session_expiry_s=600,
            backoff_max_s=1,
        )

    def on_message(self, topic: str, payload: bytes) -> None:
        got = decode(topic, payload)
        self.seqs[got.asset_no].append(got.seq)

    def complete(self, last: dict[str, int]) -> bool:
        return all(set(self.seqs[a]) >= set(range(1, n + 1)) for a, n in last.items())


@pytest.fixture
def thread_hops(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Counts asyncio.to_thread calls (the real one still runs)."""
    calls = [0]
    real = asyncio.to_thread

    async def counting(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counting)
    return lambda: calls[0]


async def test_steady_state_spools_nothing_and_hops_per_tick_not_per_message(
    mosquitto: MosquittoServer, tmp_path: Path, thread_hops: Callable[[], int]
) -> None:
    broker = BrokerSettings.from_url(mosquitto.url)
    subscriber = Subscriber(broker)
    link = MqttLink(broker, "test-cost-collector", backoff_max_s=1)
    spool = Spool(tmp_path / "c.spool")
    sent_log = SentLog(tmp_path / "c.spool.sent")
    publisher = SpooledPublisher(link, spool, sent_log=sent_log)
    tasks = [asyncio.create_task(t) for t in (subscriber.link.run(), link.run())]
    try:
        await wait_until(lambda: subscriber.link.connected.is_set() and link.connected.is_set(), 10)
        hops_before = thread_hops()
        tasks.append(asyncio.create_task(publisher.run()))
        last: dict[str, int] = {}
        for _ in range(30):  # 300 polls, spread out like polls at a 1 s period
            for asset_no in ASSETS:
                last[asset_no] = publisher.next_seq(asset_no)
                publisher.submit(message(asset_no, last[asset_no]))
                await asyncio.sleep(0.003)
        await wait_until(lambda: subscriber.complete(last), 20)
        await wait_until(lambda: publisher.queued == 0, 10)
        hops = thread_hops() - hops_before
        # main: 2-3 hops per message (spool put, then sent log + spool ack)
        assert hops <= 300 / 10, f"{hops} worker-thread hops for 300 messages"
        assert spooled_ever(tmp_path / "c.spool") == 0, "the broker acknowledged every poll"
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    try:
        # every acknowledged poll is in the sent log (the historian's resend source)
        for asset_no, n in last.items():
            assert [r.seq for r in sent_log.get(asset_no, 1, n)] == list(range(1, n + 1))
    finally:
        spool.close()
        sent_log.close()


async def test_a_stop_while_the_broker_is_away_keeps_every_poll_for_the_next_run(
    fresh_mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    """Polls still in memory (the broker never acknowledged them) go to the spool when the
    publisher stops; the next run sends them first, in order, and continues each seq."""
    broker = BrokerSettings.from_url(fresh_mosquitto.url)
    subscriber = Subscriber(broker)
    sub_task = asyncio.create_task(subscriber.link.run())
    last: dict[str, int] = {}

    async def one_run(polls: int, *, stop_broker: bool) -> None:
        link = MqttLink(broker, "test-cost-restart", backoff_min_s=0.2, backoff_max_s=1)
        spool = Spool(tmp_path / "c.spool")
        sent_log = SentLog(tmp_path / "c.spool.sent")
        # a long tick and spill delay: what is unacknowledged stays in memory until the stop
        publisher = SpooledPublisher(link, spool, sent_log=sent_log, tick_s=30, spill_after_s=60)
        tasks = [asyncio.create_task(link.run()), asyncio.create_task(publisher.run())]
        try:
            await wait_until(link.connected.is_set, 10)
            if stop_broker:
                await asyncio.to_thread(fresh_mosquitto.stop)
                await wait_until(lambda: not link.connected.is_set(), 10)
            for _ in range(polls):
                for asset_no in ASSETS:
                    last[asset_no] = publisher.next_seq(asset_no)
                    publisher.submit(message(asset_no, last[asset_no]))
            if stop_broker:
                assert publisher.queued == polls * len(ASSETS)
            else:
                await wait_until(lambda: subscriber.complete(last), 20)
        finally:
            for task in reversed(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            spool.close()
            sent_log.close()

    try:
        await wait_until(subscriber.link.connected.is_set, 10)
        await one_run(5, stop_broker=True)
        await asyncio.to_thread(fresh_mosquitto.start)
        await one_run(3, stop_broker=False)
        for asset_no in ASSETS:
            firsts = list(dict.fromkeys(subscriber.seqs[asset_no]))
            assert firsts == list(range(1, 9)), asset_no
    finally:
        sub_task.cancel()
        await asyncio.gather(sub_task, return_exceptions=True)


_CHILD = """
import asyncio, sys
from pathlib import Path
from collectors.publisher import SpooledPublisher
from collectors.sentlog import SentLog
from facility.mqtt import BrokerSettings, MqttLink
from facility.spool import Spool
from tests.integration.test_publish_cost import ASSETS, message

async def main(var: Path, url: str) -> None:
    link = MqttLink(BrokerSettings.from_url(url), "test-cost-killed", backoff_max_s=1)
    publisher = SpooledPublisher(
        link, Spool(var / "c.spool"), sent_log=SentLog(var / "c.spool.sent"),
        tick_s=60, spill_after_s=60,
    )
    tasks = [asyncio.create_task(link.run()), asyncio.create_task(publisher.run())]
    for _ in range(10):
        for asset_no in ASSETS:
            publisher.submit(message(asset_no, publisher.next_seq(asset_no)))
    print(publisher.queued, flush=True)
    await asyncio.gather(*tasks)

asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
"""


async def test_a_sigkill_loses_no_poll_and_reuses_no_seq(
    mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    """Polls only in memory (the broker unreachable, nothing spilled yet) when the process is
    killed: the crash journal gives them to the next run, which sends them and continues."""
    import os
    import sys

    nowhere = "mqtt://127.0.0.1:9"  # discard port: the broker is unreachable
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD,
        str(tmp_path),
        nowhere,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 30)
        assert int(line) == 10 * len(ASSETS)  # all in memory
    finally:
        child.kill()  # SIGKILL
        await asyncio.wait_for(child.wait(), 10)
    assert spooled_ever(tmp_path / "c.spool") == 0, "nothing was spilled before the kill"
    broker = BrokerSettings.from_url(mosquitto.url)
    subscriber = Subscriber(broker)
    link = MqttLink(broker, "test-cost-after-kill", backoff_max_s=1)
    spool = Spool(tmp_path / "c.spool")
    sent_log = SentLog(tmp_path / "c.spool.sent")
    publisher = SpooledPublisher(link, spool, sent_log=sent_log)
    tasks = [asyncio.create_task(t) for t in (subscriber.link.run(), link.run(), publisher.run())]
    try:
        assert publisher.next_seq(ASSETS[0]) == 11  # continues: no seq reused
        publisher.submit(message(ASSETS[0], 11))
        last = {a: 10 for a in ASSETS} | {ASSETS[0]: 11}
        await wait_until(lambda: subscriber.complete(last), 20)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        spool.close()
        sent_log.close()
    left = await asyncio.to_thread(lambda: list(tmp_path.glob("c.spool.journal.*")))
    assert not left, "a clean stop leaves no journal"
