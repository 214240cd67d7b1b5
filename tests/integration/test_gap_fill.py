"""Nothing lost across a broker restart, whatever the broker keeps: end-to-end gap filling.

Finding (issue 9): mosquitto killed under the estates' load lost 70 % of a minute's readings.
mosquitto 2.0 keeps an offline session's queue across a restart but not its ``$share/...``
subscription: what the collectors flush before the gateway re-subscribes reaches nobody.
Here the real collector publish path (spool → broker, sent log, resend requests) and the real
gateway (shared subscription → InfluxDB, gap audit) run on a real mosquitto and influxd; the
broker is killed and restarted while the gateway is away, and at the end InfluxDB must hold
every poll of every device: published = stored, per device, by sequence number.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from collectors.publisher import SpooledPublisher
from collectors.sentlog import SentLog
from devtools.services import InfluxServer, MosquittoServer
from facility.mqtt import BrokerSettings, MqttLink
from facility.payload import DeviceMessage
from facility.spool import Spool
from facility.topics import resend_request_topic
from facility.types import Quality, Reading
from gateway.influx import InfluxClient
from gateway.ingest import GatewayService, InfluxTarget
from maintenance.ledger_files import demo_ledger_paths, read_ledger_file
from tests.support import wait_until

ASSETS = [a for p in demo_ledger_paths() for a in read_ledger_file(p) if a.monitored][:60]
RATE_HZ = 2


class Collector:
    """The collector's publish path, fed by a synthetic poll loop (RATE_HZ per device)."""

    def __init__(self, broker: BrokerSettings, var: Path) -> None:
        self.sent_log = SentLog(var / "c.spool.sent")
        self.spool = Spool(var / "c.spool")
        loop = asyncio.get_running_loop()
        sites = sorted({a.site for a in ASSETS})
        self.link = MqttLink(
            broker,
            "test-gap-collector",
            subscriptions=[(resend_request_topic(s), 1) for s in sites],
            on_message=lambda _t, p: loop.call_soon_threadsafe(self.on_request, p),
            backoff_min_s=0.2,
            backoff_max_s=1,
        )
        self.publisher = SpooledPublisher(self.link, self.spool, sent_log=self.sent_log)
        self.produced: Counter[str] = Counter()

    def on_request(self, payload: bytes) -> None:
        self.publisher.on_resend_request(payload)

    async def poll(self) -> None:
        while True:
            now = datetime.now(UTC)
            for asset in ASSETS:
                seq = self.publisher.next_seq(asset.asset_no)
                reading = Reading(
                    asset.site, asset.asset_no, "value_a", float(seq), "", Quality.GOOD, None, now
                )
                self.publisher.submit(
                    DeviceMessage(
                        asset.site,
                        asset.asset_no,
                        asset.device_class.value,
                        seq,
                        now,
                        (reading,),
                        {"comm_ok": True},
                    )
                )
                self.produced[asset.asset_no] = seq
            await asyncio.sleep(1 / RATE_HZ)

    def close(self) -> None:
        self.spool.close()
        self.sent_log.close()


def gateway(broker: MosquittoServer, influxd: InfluxServer, db: str, var: Path) -> GatewayService:
    return GatewayService(
        BrokerSettings.from_url(broker.url),
        InfluxTarget(influxd.url, db, timeout_s=5),
        var / "gw.spool",
        gateway_id="gw-gapfill",
        batch_interval_s=0.3,
        setup_on_start=False,
        session_expiry_s=600,
        gap_audit_interval_s=2.0,
        gap_settle_s=3.0,
        gap_lookback_s=300.0,
    )


def stored_seqs(client: InfluxClient) -> dict[str, set[int]]:
    series = client.query_one('SELECT "seq" FROM "device_health" GROUP BY "asset_no"')
    return {s.tags["asset_no"]: {int(v[1]) for v in s.values} for s in series}


async def test_broker_killed_while_the_gateway_is_away_loses_nothing(
    fresh_mosquitto: MosquittoServer, influxd: InfluxServer, influx_db: str, tmp_path: Path
) -> None:
    broker = BrokerSettings.from_url(fresh_mosquitto.url)
    collector = Collector(broker, tmp_path)
    client = InfluxClient(influxd.url, influx_db)
    service = gateway(fresh_mosquitto, influxd, influx_db, tmp_path)
    tasks = [
        asyncio.create_task(collector.link.run()),
        asyncio.create_task(collector.publisher.run()),
    ]
    gw_task = asyncio.create_task(service.run())
    try:
        await wait_until(lambda: service.link is not None and service.link.connected.is_set(), 10)
        tasks.append(asyncio.create_task(collector.poll()))
        await asyncio.sleep(3)
        # the gateway goes away (an upgrade), then the broker is killed and comes back: the
        # collector reconnects and flushes while no gateway is subscribed
        gw_task.cancel()
        await asyncio.gather(gw_task, return_exceptions=True)
        await asyncio.sleep(1)
        await asyncio.to_thread(fresh_mosquitto.kill)
        await asyncio.sleep(2)
        await asyncio.to_thread(fresh_mosquitto.start)
        await wait_until(collector.link.connected.is_set, 20)
        await asyncio.sleep(4)
        service = gateway(fresh_mosquitto, influxd, influx_db, tmp_path)
        gw_task = asyncio.create_task(service.run())
        await asyncio.sleep(3)
        tasks[-1].cancel()  # polling stops; everything produced must end up stored
        await asyncio.gather(tasks[-1], return_exceptions=True)
        produced = dict(collector.produced)
        assert sum(produced.values()) >= len(ASSETS) * RATE_HZ * 10

        def complete() -> bool:
            stored = stored_seqs(client)
            return all(stored.get(a, set()) >= set(range(1, n + 1)) for a, n in produced.items())

        await wait_until(complete, 90)
        stored = stored_seqs(client)
        for asset_no, last in produced.items():
            assert stored[asset_no] == set(range(1, last + 1)), asset_no
        assert service.gapfill is not None
        assert service.gapfill.stats.requested > 0, "the broker restart must have left holes"
        assert collector.publisher.resent > 0
        assert service.gapfill.stats.reported_missing == 0
    finally:
        for task in [*tasks, gw_task]:
            task.cancel()
        await asyncio.gather(*tasks, gw_task, return_exceptions=True)
        collector.close()
        client.close()


async def test_sequence_numbers_continue_after_a_restart(tmp_path: Path) -> None:
    """A restarted collector continues each device's seq (a restart is not a gap or a reset)."""
    log = SentLog(tmp_path / "s.sent")
    log.note_seqs({"HT-PMP-001": 41, "HT-PMP-002": 7})
    log.note_seqs({"HT-PMP-001": 40})  # never backwards
    log.close()
    again = SentLog(tmp_path / "s.sent")
    try:
        assert again.last_seqs() == {"HT-PMP-001": 41, "HT-PMP-002": 7}
    finally:
        again.close()


async def test_the_audit_reads_seq_by_seq_only_the_devices_that_may_have_holes(
    influxd: InfluxServer, influx_db: str
) -> None:
    """Four numbers per device first; the seqs themselves only of devices whose summary is not
    simply complete — the holes found are the same as reading everything."""
    from gateway.gapfill import GapFiller

    client = InfluxClient(influxd.url, influx_db)
    now_ms = int(time.time() * 1000)
    histories = {
        "HT-PMP-001": list(range(1, 201)),  # complete
        "HT-PMP-002": [s for s in range(1, 201) if s not in (50, 51, 120)],  # two holes
        "HT-PMP-003": [*range(300, 400), *range(1, 50)],  # started again from 1
        "HT-TNK-001": list(range(1000, 1100)),  # complete, not from 1
    }
    lines = []
    for asset_no, seqs in histories.items():
        for i, seq in enumerate(seqs):
            ts = now_ms - 200_000 + i * 500
            lines.append(f"device_health,asset_no={asset_no} seq={seq}i {ts}")
    client.write("\n".join(lines).encode(), retention_policy=None)
    asked: list[bytes] = []

    def publish(_topic: str, payload: bytes) -> asyncio.Future[None]:
        asked.append(payload)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    filler = GapFiller(
        client,
        publish,
        gateway_id="gw-audit",
        retention_policy=None,
        lookback_s=600,
        settle_s=1,
    )
    try:
        result = await filler.audit_once()
        assert result is not None
        assert filler.stats.devices_looked_at == 2  # the one with holes and the restarted one
        assert sorted((r.asset_no, r.seq_from, r.seq_to) for r in result.requests) == [
            ("HT-PMP-002", 50, 51),
            ("HT-PMP-002", 120, 120),
        ]
    finally:
        client.close()
