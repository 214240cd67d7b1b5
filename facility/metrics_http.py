"""The ``/metrics`` endpoint of every service, served from the service's own event loop.

prometheus_client's ``start_http_server`` runs a ``ThreadingHTTPServer``: one thread per
connection, unbounded (500 idle connections were 500 threads and +125 MB), and a port in use
is an ``OSError`` traceback. This server is one ``asyncio.start_server`` on the loop the
service already runs:

- at most ``max_connections`` connections at once; one more takes the place of the oldest
  connection that is only waiting (idle connections cannot lock the scraper out), or is
  closed at once, unanswered, if all are being answered;
- a request head larger than ``max_request_bytes`` gets 431 and the connection is closed;
- a connection idle for ``idle_timeout_s`` (no complete request head) is closed;
- with a ``token``, a request without ``Authorization: Bearer <token>`` gets 401 (the
  comparison takes the same time whatever the guess); without one, listening on anything but
  loopback is logged as a warning at start (the counters name every asset and host);
- ``GET /metrics`` (and ``HEAD``) answers in the format the scraper asks for (Prometheus text
  or OpenMetrics, gzip if accepted); any other path is 404, any other method 405;
- collecting the registry is done inline while it is quick (under ``INLINE_COLLECT_S``, the
  common case: a few hundred devices' counters take about a millisecond); once a collection
  took longer — a spool statistic waiting for a busy database — the next ones run in a worker
  thread, one at a time, so a slow scrape never stalls the service's loop twice.

A port that is taken is a ``ConfigError`` saying which setting to change, not a traceback.
"""

from __future__ import annotations

import asyncio
import errno
import gzip
import hmac
import ipaddress
import logging
import time
from collections.abc import Callable
from typing import Self

from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from facility.errors import ConfigError

log = logging.getLogger(__name__)

# What a service hands over to be served: anything with prometheus' ``collect()``.
MetricsSource = Collector

MAX_CONNECTIONS = 64
MAX_REQUEST_BYTES = 8 * 1024
IDLE_TIMEOUT_S = 10.0
INLINE_COLLECT_S = 0.005  # slower than this on the loop: collect in a worker thread instead
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
}


def port_in_use_message(port: int, host: str, section: str | None) -> str:
    """The one line said when the metrics port is taken, naming the setting to change."""
    where = f"metrics port {port} on {host} is already in use"
    if section is None:
        return f"{where}; choose another port, or 0 for any free port"
    env = f"FACILITY_{section.upper()}__METRICS_PORT"
    return f"{where}; set [{section}] metrics_port ({env}) or 0 for any free port"


def is_loopback(host: str) -> bool:
    """True if ``host`` is a loopback name or address (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


class MetricsServer:
    """``GET /metrics`` of one registry on ``host:port`` (0: any free port), on this loop.

    Use as ``async with MetricsServer(registry, port=9108, section="collector") as server``;
    ``server.url`` is where it listens. ``section`` is the configuration section whose
    ``metrics_port`` chose the port, named in the error when the port is taken.
    """

    def __init__(
        self,
        registry: MetricsSource,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        section: str | None = None,
        max_connections: int = MAX_CONNECTIONS,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        inline_collect_s: float = INLINE_COLLECT_S,
        token: str | None = None,
    ) -> None:
        self.registry = registry
        self._expected_auth = f"Bearer {token}".encode() if token else None
        self.unauthorized = 0  # requests answered 401
        self.host = host
        self.port = port
        self.section = section
        self.max_connections = max_connections
        self.max_request_bytes = max_request_bytes
        self.idle_timeout_s = idle_timeout_s
        self.inline_collect_s = inline_collect_s
        self.refused = 0  # connections closed at once: max_connections were being answered
        self.evictions = 0  # idle connections closed to make room for a new one
        self.scrapes = 0
        self.failures = 0  # scrapes answered 500 because the collection raised
        self.collect_in_thread = False
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        # connections waiting for a request, oldest first (dict: ordered set)
        self._idle: dict[asyncio.Task[None], None] = {}
        self._evicted: set[asyncio.Task[None]] = set()
        self._collecting = asyncio.Lock()

    @property
    def url(self) -> str:
        """``http://host:port/metrics`` with the port actually bound."""
        return f"http://{self.host}:{self.port}/metrics"

    @property
    def connections(self) -> int:
        """Connections open now."""
        return len(self._handlers) - len(self._evicted)

    async def start(self) -> None:
        """Bind and listen; ConfigError if the address cannot be had."""
        try:
            # the StreamReader limit is the request-head limit: readuntil() stops there
            self._server = await asyncio.start_server(
                self._accept, self.host, self.port, limit=self.max_request_bytes
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(port_in_use_message(self.port, self.host, self.section)) from None
            setting = f" ([{self.section}] metrics_port)" if self.section else ""
            raise ConfigError(
                f"metrics port {self.port} on {self.host}{setting}: cannot listen: "
                f"{exc.strerror or exc}"
            ) from None
        sockets = self._server.sockets
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        if self._expected_auth is None and not is_loopback(self.host):
            log.warning(
                "metrics %s: listening beyond loopback without a token; anyone who can reach "
                "it reads every asset's counters: set [metrics] token ($FACILITY_METRICS__TOKEN)",
                self.url,
            )

    async def close(self) -> None:
        """Stop listening and close every open connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- connections ---------------------------------------------------------------------------

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # a plain callback, not a coroutine: a connection beyond the bound costs no task
        if len(self._handlers) - len(self._evicted) >= self.max_connections:
            if self._idle:
                # the oldest connection that is only waiting makes room: idle connections
                # held open (by a client or an attacker) never lock the scraper out
                oldest = next(iter(self._idle))
                del self._idle[oldest]
                self._evicted.add(oldest)
                self.evictions += 1
                oldest.cancel()
            else:
                self._refuse(writer)
                return
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._handlers.add(task)
        task.add_done_callback(self._done)

    def _refuse(self, writer: asyncio.StreamWriter) -> None:
        self.refused += 1
        if self.refused == 1 or self.refused % 1000 == 0:
            log.warning(
                "metrics %s: %d connections busy, closing new ones (%d so far)",
                self.url,
                self.max_connections,
                self.refused,
            )
        writer.transport.abort()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._handlers.discard(task)
        self._evicted.discard(task)
        self._idle.pop(task, None)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        try:
            while True:
                self._idle[task] = None  # waiting for a request: may be evicted
                try:
                    async with asyncio.timeout(self.idle_timeout_s):
                        head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.LimitOverrunError, ValueError):
                    self._idle.pop(task, None)
                    await self._respond(writer, 431, b"request head too large\n", close=True)
                    return
                except (TimeoutError, asyncio.IncompleteReadError):
                    return  # idle, or the peer went away
                self._idle.pop(task, None)
                keep_alive = await self._answer(writer, head)
                if not keep_alive:
                    return
        except (ConnectionError, OSError):
            return
        finally:
            writer.transport.abort()

    async def _answer(self, writer: asyncio.StreamWriter, head: bytes) -> bool:
        """Answer one request; True if the connection stays open for the next."""
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            await self._respond(writer, 400, b"bad request\n", close=True)
            return False
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if headers.get("content-length", "0") != "0" or "transfer-encoding" in headers:
            # nothing here takes a body; reading one would be another thing to bound
            await self._respond(writer, 400, b"no request body expected\n", close=True)
            return False
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" and (version == "HTTP/1.1" or connection == "keep-alive")
        head_only = method == "HEAD"
        if method not in ("GET", "HEAD"):
            await self._respond(writer, 405, b"GET or HEAD only\n", close=True, allow=True)
            return False
        path = target.split("?", 1)[0]
        if path != "/metrics":
            await self._respond(writer, 404, b"not found: try /metrics\n", head_only=head_only)
            return keep_alive
        if not self._authorized(headers.get("authorization", "")):
            self.unauthorized += 1
            await self._respond(
                writer, 401, b"unauthorized: send Authorization: Bearer <token>\n", bearer=True
            )
            return keep_alive
        try:
            body, content_type, encoding = await self._collect(
                headers.get("accept", ""), headers.get("accept-encoding", "")
            )
        except Exception as exc:
            # a collector that raised (e.g. a counter dict changed size while a worker thread
            # read it): this scrape fails, the next one is tried afresh
            self.failures += 1
            if self.failures == 1:
                log.exception("metrics %s: collection failed (logged once, counted)", self.url)
            body = f"collection failed: {type(exc).__name__}\n".encode()
            await self._respond(writer, 500, body, head_only=head_only, close=True)
            return False
        self.scrapes += 1
        await self._respond(
            writer,
            200,
            body,
            content_type=content_type,
            encoding=encoding,
            head_only=head_only,
            close=not keep_alive,
        )
        return keep_alive

    async def _respond(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes,
        *,
        content_type: str = "text/plain; charset=utf-8",
        encoding: str | None = None,
        head_only: bool = False,
        close: bool = False,
        allow: bool = False,
        bearer: bool = False,
    ) -> None:
        head = [
            f"HTTP/1.1 {status} {_REASONS[status]}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
        ]
        if encoding:
            head.append(f"Content-Encoding: {encoding}")
        if allow:
            head.append("Allow: GET, HEAD")
        if bearer:
            head.append('WWW-Authenticate: Bearer realm="metrics"')
        head.append("Connection: close" if close else "Connection: keep-alive")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if not head_only:
            writer.write(body)
        # a reader that does not read gets the idle timeout too, not a buffer that grows
        async with asyncio.timeout(self.idle_timeout_s):
            await writer.drain()

    def _authorized(self, authorization: str) -> bool:
        if self._expected_auth is None:
            return True
        return hmac.compare_digest(authorization.encode("latin-1"), self._expected_auth)

    # -- collection ------------------------------------------------------------------------------

    async def _collect(self, accept: str, accept_encoding: str) -> tuple[bytes, str, str | None]:
        encoder, content_type = choose_encoder(accept)
        gzip_it = "gzip" in accept_encoding.lower()

        def render() -> bytes:
            body = encoder(self.registry)
            return gzip.compress(body, compresslevel=1) if gzip_it else body

        # one collection at a time: concurrent scrapes queue here, never in N threads
        async with self._collecting:
            body = await self._render(render)
        return body, content_type, "gzip" if gzip_it else None

    async def _render(self, render: Callable[[], bytes]) -> bytes:
        if self.collect_in_thread:
            return await asyncio.to_thread(render)
        started = time.perf_counter()
        body = render()
        took = time.perf_counter() - started
        if took > self.inline_collect_s:
            self.collect_in_thread = True
            log.info(
                "metrics %s: collection took %.1f ms, collecting in a worker thread from now on",
                self.url,
                took * 1000,
            )
        return body
