"""Fault injectors for tests: an HTTP proxy in front of a REAL server (influxd) that passes
requests through, or answers 200 with a page that is not the server's, or 500, or nothing.

Not a mock: in ``pass`` mode every request reaches the real server and its answer (status,
headers, body) comes back unchanged; the other modes are what a broken proxy, load balancer
or server does to the product.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

MODES = ("pass", "garbage", "error500", "hang")
GARBAGE = b"<html><body><h1>Welcome to nginx!</h1></body></html>\n"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class FaultyHttpProxy:
    """``with FaultyHttpProxy(upstream_url) as proxy``: point the client at ``proxy.url`` and
    set ``proxy.mode`` to one of ``MODES`` at any time (each request reads it once)."""

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        assert parts.hostname is not None
        assert parts.port is not None
        self.upstream = (parts.hostname, parts.port)
        self.mode = "pass"
        self.answered: Counter[str] = Counter()  # requests seen, by the mode that answered
        self._stop = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._sockets_lock = threading.Lock()
        proxy = self

        class Server(ThreadingHTTPServer):
            daemon_threads = False  # joined by server_close: no thread outlives the test
            block_on_close = True

            def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
                with proxy._sockets_lock:
                    proxy._sockets.add(request)
                super().process_request(request, client_address)  # type: ignore[arg-type]

        self._server = Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FaultyHttpProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._server.shutdown()
        with self._sockets_lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):  # already closed by its client
                    sock.shutdown(socket.SHUT_RDWR)
        self._server.server_close()  # joins the handler threads
        self._thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as InfluxClient uses it

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self) -> None:
        proxy: FaultyHttpProxy = self.server.proxy  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        mode = proxy.mode
        proxy.answered[mode] += 1
        if mode == "hang":
            proxy._stop.wait()  # never answers; the client's timeout has to act
            self.close_connection = True
            return
        if mode == "garbage":
            self._send(200, [("Content-Type", "text/html")], GARBAGE)
            return
        if mode == "error500":
            self._send(500, [("Content-Type", "text/plain")], b"internal error\n")
            return
        upstream = http.client.HTTPConnection(*proxy.upstream, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            passed = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
            self._send(response.status, passed, data)
        finally:
            upstream.close()

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        if status != 204:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 204:
            self.wfile.write(body)
