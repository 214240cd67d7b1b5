"""The real alarm engine (gateway.alarms.service) for browser tests: compiled for a few
assets of the test's ledger, run on its own event loop in a thread, talking to the test's
real mosquitto and writing the test's SQLite journal, as ``facility alarms run`` would."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Collection

EMPTY_ALARM_FILE = "supervisors: []\n"


class Engine:
    """The alarm engine for ``asset_nos`` of the ledger at ``db_url`` (``alarm_file``: the
    text of an alarms.yaml — overrides such as shorter on-delays)."""

    def __init__(
        self,
        db_url: str,
        bus_url: str,
        asset_nos: Collection[str],
        *,
        alarm_file: str = EMPTY_ALARM_FILE,
        stale_after_s: float = 60.0,
    ) -> None:
        self.db_url, self.bus_url = db_url, bus_url
        self.asset_nos = frozenset(asset_nos)
        self.alarm_file = alarm_file
        self.stale_after_s = stale_after_s
        self.ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        from device_profiles import load_library
        from facility.mqtt import BrokerSettings
        from gateway.alarms.alarmfile import parse_alarm_file
        from gateway.alarms.definitions import compile_alarms
        from gateway.alarms.service import AlarmService
        from gateway.alarms.store import AlarmStore
        from maintenance.store import LedgerStore

        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        with LedgerStore(self.db_url) as ledger:
            assets = [a for a in ledger.assets() if a.asset_no in self.asset_nos]
        alarm_set = compile_alarms(
            assets, load_library(), parse_alarm_file(self.alarm_file, "alarms.yaml")
        )
        with AlarmStore(self.db_url) as store:
            service = AlarmService(
                alarm_set, BrokerSettings.from_url(self.bus_url), store,
                service_id="test-console", tick_s=0.2, stale_after_s=self.stale_after_s,
            )  # fmt: skip
            started = asyncio.Event()
            task = asyncio.create_task(service.run(started))
            await asyncio.wait_for(started.wait(), 20)
            self.ready.set()
            await self._stop.wait()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def __enter__(self) -> Engine:
        self._thread.start()
        assert self.ready.wait(30), "the alarm engine did not start"
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)
