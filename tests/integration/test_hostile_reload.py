"""A hostile profile dropped into the library of a running collector (real Modbus simulators,
real mosquitto): the hot reload refuses it with its located error, logged once, and every
device keeps being polled; when the file goes, reloading works again.

Before: the loader's RecursionError escaped the reload task and the collector stopped (a
100 KB ``[[[`` file segfaulted it outright; that case is tested in a child process in
tests/unit/test_hostile_profiles.py).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

import pytest

from collectors.service import CollectorService
from device_profiles import LIBRARY_DIR, load_library
from devtools.services import MosquittoServer
from facility.limits import PROFILE_MAX_DEPTH
from facility.mqtt import BrokerSettings
from simulators.estate import Estate
from tests.integration.test_collector_modbus import FLEET_NOS, wired
from tests.support import wait_until

pytest_plugins = ["tests.integration.test_collector_modbus"]  # the estate fixture


async def test_bad_profile_in_library_is_logged_once_and_polling_goes_on(
    estate: Estate,
    mosquitto: MosquittoServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    library = tmp_path / "library"
    shutil.copytree(LIBRARY_DIR, library)
    assets = wired(estate)
    service = CollectorService(
        assets,
        load_library(library),
        BrokerSettings.from_url(mosquitto.url),
        tmp_path / "c.spool",
        collector_id="test-hostile-reload",
        seed=3,
        reload=lambda: (assets, load_library(library)),
        reload_every_s=0.2,
    )
    caplog.set_level(logging.INFO, logger="collectors.service")
    ready = asyncio.Event()
    task = asyncio.create_task(service.run(ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        deep = library / "deep.yaml"
        deep.write_text("a: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n")
        await wait_until(lambda: service.reload_failures >= 5 or task.done(), 30)
        assert not task.done(), task.exception()
        failed = [r.getMessage() for r in caplog.records if "reload failed" in r.getMessage()]
        assert failed == [
            "reload failed, keeping the running definitions: "
            f"{deep}:1: nesting deeper than {PROFILE_MAX_DEPTH} levels; expected at most "
            f"{PROFILE_MAX_DEPTH} (a device profile needs fewer than 10)"
        ]
        # every device is still polled after the failed reloads
        seqs = {p.device.asset.asset_no: p.seq for p in service.pollers}
        assert set(seqs) == set(FLEET_NOS)
        await wait_until(
            lambda: all(p.seq > seqs[p.device.asset.asset_no] for p in service.pollers), 20
        )
        deep.unlink()
        await wait_until(
            lambda: any("reload succeeded again" in r.getMessage() for r in caplog.records), 10
        )
        assert not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
