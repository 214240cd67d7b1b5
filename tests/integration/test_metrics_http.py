"""``/metrics`` of the services: bounded, on the service's loop, and clear when it cannot start.

Issue 9, finding 7: prometheus_client's server took a thread per connection (500 idle
connections, 500 threads), a port in use was a 58-line traceback, a var dir that cannot be
written was another.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from collectors.service import CollectorService
from devtools.services import MosquittoServer
from facility.errors import ConfigError
from facility.metrics_http import MetricsServer, port_in_use_message
from facility.mqtt import BrokerSettings
from maintenance.ledger_files import demo_ledger_paths
from tests.support import wait_until

REPO = Path(__file__).resolve().parents[2]


class _Counting(Collector):
    def __init__(self) -> None:
        self.collections = 0

    def collect(self) -> Iterator[Metric]:
        self.collections += 1
        yield CounterMetricFamily("test_collections", "Collections so far", self.collections)


def _get(
    url: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


async def _open_idle(port: int, count: int) -> list[asyncio.StreamWriter]:
    writers = []
    for _ in range(count):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writers.append(writer)
    return writers


async def _close_all(writers: list[asyncio.StreamWriter]) -> None:
    for writer in writers:
        writer.transport.abort()
    await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def _collector(broker: MosquittoServer, spool: Path) -> AsyncIterator[CollectorService]:
    service = CollectorService(
        [],
        {},
        BrokerSettings.from_url(broker.url),
        spool,
        collector_id="test-metrics",
        metrics_port=0,
    )
    ready = asyncio.Event()
    task = asyncio.create_task(service.run(ready))
    try:
        await asyncio.wait_for(ready.wait(), 15)
        yield service
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_500_idle_connections_add_no_thread_and_metrics_still_answer(
    mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    async with _collector(mosquitto, tmp_path / "c.spool") as service:
        assert service.metrics_url is not None
        port = int(service.metrics_url.rsplit(":", 1)[1].split("/")[0])
        status, _, _ = await asyncio.to_thread(_get, service.metrics_url)
        assert status == 200
        before = threading.active_count()
        writers = await _open_idle(port, 500)
        try:
            # a scrape after the 500: every earlier connection has been accepted by now
            status, headers, body = await asyncio.to_thread(_get, service.metrics_url)
            after = threading.active_count()
        finally:
            await _close_all(writers)
        assert status == 200
        assert headers["Content-Type"].startswith("text/plain")
        assert b"facility_collector_spool_depth" in body
        # the scrape's own worker thread at most; not one per connection
        assert after - before <= 2, (before, after)


async def test_server_bounds_connections_and_evicts_the_oldest_idle_one() -> None:
    source = _Counting()
    async with MetricsServer(source, max_connections=4) as server:
        writers = await _open_idle(server.port, 10)
        try:
            await wait_until(lambda: server.evictions + server.connections >= 10, 10)
            assert server.connections <= 4
            status, _, body = await asyncio.to_thread(_get, server.url)
            assert status == 200
            assert b"test_collections_total" in body
        finally:
            await _close_all(writers)


async def test_server_answers_only_get_and_head_of_metrics() -> None:
    async with MetricsServer(_Counting()) as server:
        base = server.url.removesuffix("/metrics")
        status, headers, body = await asyncio.to_thread(_get, server.url, method="HEAD")
        assert (status, body) == (200, b"")
        assert int(headers["Content-Length"]) > 0
        status, _, _ = await asyncio.to_thread(_get, base + "/")
        assert status == 404
        status, headers, _ = await asyncio.to_thread(_get, server.url, method="DELETE")
        assert status == 405
        assert headers["Allow"] == "GET, HEAD"
        status, headers, body = await asyncio.to_thread(
            _get, server.url, {"Accept": "application/openmetrics-text; version=1.0.0"}
        )
        assert headers["Content-Type"].startswith("application/openmetrics-text")
        assert body.endswith(b"# EOF\n")
        status, headers, body = await asyncio.to_thread(
            _get, server.url, {"Accept-Encoding": "gzip"}
        )
        assert headers["Content-Encoding"] == "gzip"
        assert b"test_collections_total" in gzip.decompress(body)


async def test_server_closes_oversized_and_idle_requests() -> None:
    async with MetricsServer(_Counting(), max_request_bytes=1024, idle_timeout_s=0.5) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /metrics HTTP/1.1\r\nX-Junk: " + b"a" * 4096 + b"\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 5)
        assert answer.startswith(b"HTTP/1.1 431 ")
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /metr")  # and nothing more
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the idle timeout
        writer.close()
        await wait_until(lambda: server.connections == 0, 5)


async def test_port_in_use_is_a_config_error_naming_the_setting() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = MetricsServer(_Counting(), port=port, section="collector")
        with pytest.raises(ConfigError) as caught:
            await server.start()
    assert str(caught.value) == (
        f"metrics port {port} on 127.0.0.1 is already in use; set [collector] metrics_port "
        "(FACILITY_COLLECTOR__METRICS_PORT) or 0 for any free port"
    )
    assert str(caught.value) == port_in_use_message(port, "127.0.0.1", "collector")


# -- the CLI, as its own process ---------------------------------------------------------------


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def _run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from facility.cli import main; main()", *args],
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


COMMANDS = {
    "collector": ["collect", "run", "--ledger", str(demo_ledger_paths()[0])],
    "gateway": ["gateway", "run", "--any-asset"],
}


@pytest.mark.parametrize("section", sorted(COMMANDS))
def test_cli_port_in_use_is_one_line_and_exits_non_zero(
    section: str, taken_port: int, tmp_path: Path
) -> None:
    env = {
        "FACILITY_MQTT__URL": "mqtt://127.0.0.1:1",  # never reached: start-up fails first
        "FACILITY_PATHS__VAR_DIR": str(tmp_path / "var"),
        f"FACILITY_{section.upper()}__METRICS_PORT": str(taken_port),
    }
    result = _run_cli(COMMANDS[section], env, tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    expected = port_in_use_message(taken_port, "127.0.0.1", section)
    assert result.stderr.strip().splitlines() == [f"error: {expected}"]


@pytest.mark.parametrize("section", sorted(COMMANDS))
def test_cli_var_dir_that_cannot_be_written_is_one_line(section: str, tmp_path: Path) -> None:
    # under a regular file: fails for root too, where a chmod 0o500 directory would not
    blocker = tmp_path / "file"
    blocker.write_text("not a directory\n")
    var_dir = blocker / "sub"
    env = {
        "FACILITY_MQTT__URL": "mqtt://127.0.0.1:1",
        "FACILITY_PATHS__VAR_DIR": str(var_dir),
        f"FACILITY_{section.upper()}__METRICS_PORT": "0",
    }
    result = _run_cli(COMMANDS[section], env, tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    # one line that names the path and what is wrong with it (the spool's own message)
    assert lines[0].startswith("error: ")
    assert str(var_dir) in lines[0]
    assert "not a directory" in lines[0].lower()


class _Slow(_Counting):
    def collect(self) -> Iterator[Metric]:
        time.sleep(0.02)  # a spool statistic waiting for a busy database
        yield from super().collect()


class _FailsOnce(_Counting):
    def collect(self) -> Iterator[Metric]:
        if self.collections == 0:
            self.collections += 1
            raise RuntimeError("dictionary changed size during iteration")
        yield from super().collect()


async def test_slow_collection_moves_to_a_worker_thread_and_a_failed_one_is_a_500() -> None:
    async with MetricsServer(_Counting()) as quick, MetricsServer(_Slow()) as slow:
        for _ in range(2):
            assert (await asyncio.to_thread(_get, quick.url))[0] == 200
            assert (await asyncio.to_thread(_get, slow.url))[0] == 200
        assert not quick.collect_in_thread
        assert slow.collect_in_thread
    async with MetricsServer(_FailsOnce()) as server:
        status, _, body = await asyncio.to_thread(_get, server.url)
        assert (status, body) == (500, b"collection failed: RuntimeError\n")
        status, _, body = await asyncio.to_thread(_get, server.url)
        assert status == 200
        assert server.failures == 1
