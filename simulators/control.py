"""The simulator's control interface: a small HTTP/JSON API on loopback, in the estate's loop.

    GET    /health                       {"status": "ok", "assets": 163, "sim_time": ...}
    GET    /endpoints                    the endpoint table
    GET    /faults                       {"faults": [{asset_no, kind, since, expires}, ...]}
    POST   /faults                       {"asset_no": "HT-PMP-001", "kind": "comm_loss",
                                          "duration_s": 30}          -> 201 {"fault": {...}}
                                         ("value": N for request_limit: N registers)
    DELETE /faults/<asset_no>/<kind>     -> 200 {"cleared": {...}}, 404 if not active

A bad request gets 400 with ``{"error": message, "field": name, "expected": [...]}``: an
unknown asset lists close matches, an unknown kind the kinds that asset supports. The server
speaks just enough HTTP/1.1 (one request per connection, ``Connection: close``) for curl,
urllib and the CLI; no dependency beyond asyncio.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from facility.deadline import within
from facility.errors import CommError
from facility.limits import HTTP_JSON_MAX_BYTES, HTTP_JSON_MAX_DEPTH, JsonLimitError, load_json
from simulators.estate import Estate, FaultRequestError

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 64 * 1024
READ_TIMEOUT_S = 10.0
ROUTES = "GET /health, GET /endpoints, GET /faults, POST /faults, DELETE /faults/<asset_no>/<kind>"
_REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Payload Too Large",
    500: "Internal Server Error",
}


class HttpError(Exception):
    def __init__(self, status: int, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": message, **detail}


class ControlServer:
    """HTTP control of one estate; ``url`` is where it listens once started."""

    def __init__(self, estate: Estate, host: str = "127.0.0.1", port: int = 0) -> None:
        self.estate = estate
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._started = datetime.now(UTC)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self.port)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise CommError(
                f"control interface {self.host}:{self.port}: cannot listen ({reason}); "
                "expected a free port"
            ) from None
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("simulator control on %s", self.url)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> ControlServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            try:
                method, path, body = await within(self._read(reader), READ_TIMEOUT_S)
                status, payload = await self._route(method, path, body)
            except HttpError as exc:
                status, payload = exc.status, exc.body
            except TimeoutError:
                status, payload = 408, {"error": "request not received in time"}
            except Exception:  # the control API must not die with one bad request
                log.exception("control request failed")
                status, payload = 500, {"error": "internal error; see the simulator's log"}
            data = json.dumps(payload, ensure_ascii=False, indent=2).encode() + b"\n"
            head = (
                f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
                "Content-Type: application/json; charset=utf-8\r\n"
                f"Content-Length: {len(data)}\r\n"
                "Connection: close\r\n\r\n"
            )
            writer.write(head.encode() + data)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            if task is not None:
                self._handlers.discard(task)

    async def _read(self, reader: asyncio.StreamReader) -> tuple[str, str, bytes]:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise HttpError(413, "request header too large") from None
        except asyncio.IncompleteReadError:
            raise HttpError(400, "incomplete HTTP request") from None
        if len(head) > MAX_HEADER_BYTES:
            raise HttpError(413, "request header too large")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            raise HttpError(400, f"malformed request line {lines[0]!r}")
        method, target, _ = parts
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    raise HttpError(400, "Content-Length: expected a number") from None
        if length < 0 or length > MAX_BODY_BYTES:
            raise HttpError(413, f"body of {length} bytes; expected at most {MAX_BODY_BYTES}")
        body = await reader.readexactly(length) if length else b""
        return method.upper(), urlsplit(target).path, body

    async def _route(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        if parts == ["health"]:
            self._allow(method, "GET")
            return 200, self._health()
        if parts == ["endpoints"]:
            self._allow(method, "GET")
            return 200, self.estate.endpoint_table()
        if parts == ["faults"]:
            self._allow(method, "GET", "POST")
            if method == "GET":
                return 200, {"faults": [f.to_json() for f in self.estate.faults()]}
            return await self._post_fault(body)
        if len(parts) == 3 and parts[0] == "faults":
            self._allow(method, "DELETE")
            return await self._delete_fault(parts[1], parts[2])
        raise HttpError(404, f"no such resource {path!r}; expected one of: {ROUTES}")

    @staticmethod
    def _allow(method: str, *allowed: str) -> None:
        if method not in allowed:
            raise HttpError(
                405, f"method {method} not allowed here; expected {' or '.join(allowed)}"
            )

    def _health(self) -> dict[str, Any]:
        estate = self.estate
        return {
            "status": "ok",
            "assets": len(estate.asset_numbers),
            "sim_time": estate.clock.now().isoformat(timespec="seconds"),
            "speed": estate.clock.speed,
            "ticks": estate.ticks,
            "overruns": estate.overruns,
            "active_faults": len(estate.faults()),
            "up_since": self._started.isoformat(timespec="seconds"),
        }

    async def _post_fault(self, body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            request = load_json(
                body or b"null",
                what="body",
                max_bytes=HTTP_JSON_MAX_BYTES,
                max_depth=HTTP_JSON_MAX_DEPTH,
            )
        except JsonLimitError as exc:
            raise HttpError(400, str(exc)) from None
        if not isinstance(request, dict):
            raise HttpError(
                400,
                'expected a JSON object {"asset_no": ..., "kind": ..., "duration_s": ...}',
                field="",
            )
        unknown = sorted(set(request) - {"asset_no", "kind", "duration_s", "value"})
        if unknown:
            raise HttpError(
                400,
                f"unknown field {unknown[0]!r}; expected asset_no, kind, duration_s, value",
                field=unknown[0],
                expected=["asset_no", "kind", "duration_s", "value"],
            )
        for name in ("asset_no", "kind"):
            if not isinstance(request.get(name), str) or not request[name]:
                raise HttpError(400, f"{name}: required, a string", field=name)
        duration = request.get("duration_s")
        if duration is not None and (isinstance(duration, bool) or not _is_number(duration)):
            raise HttpError(
                400,
                f"duration_s {duration!r}: expected a positive number of seconds or null",
                field="duration_s",
            )
        try:
            fault = await self.estate.inject(
                request["asset_no"],
                request["kind"],
                True,
                duration_s=duration,
                value=request.get("value"),
            )
        except FaultRequestError as exc:
            raise HttpError(400, str(exc), field=exc.field, expected=exc.expected) from None
        assert fault is not None
        return 201, {"fault": fault.to_json()}

    async def _delete_fault(self, asset_no: str, kind: str) -> tuple[int, dict[str, Any]]:
        active = {(f.asset_no, f.kind.value): f for f in self.estate.faults()}
        try:
            found = active.get((asset_no, kind))
            await self.estate.inject(asset_no, kind, False)
        except FaultRequestError as exc:
            raise HttpError(400, str(exc), field=exc.field, expected=exc.expected) from None
        if found is None:
            raise HttpError(404, f"no active fault {kind} on {asset_no}", field="kind")
        return 200, {"cleared": found.to_json()}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float)
