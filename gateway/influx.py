"""The one module that talks HTTP to InfluxDB: the v1-compatible ``/write`` and ``/query``.

InfluxDB 1.x serves them natively; 2.x, 3.x and Cloud serve them as compatibility endpoints
with a token (``Authorization: Token ...``) and a DBRP mapping from database/retention policy
to a bucket. ``http.client`` with a kept-alive connection: twice as fast as ``requests`` for
small requests (PITFALLS.md), and one dependency fewer.

HTTP answers are mapped into the project's exception tree here:

    StorageError
     ├── InfluxUnavailable   cannot connect, timed out, 5xx: keep the data, retry later
     ├── InfluxRejected      4xx on a write: some lines will never be accepted as they are
     │                       (parse error, field type conflict): split, don't retry them
     └── InfluxAuthError     401/403, or the database does not exist (also a ConfigError:
                             an operator must fix it; meanwhile writes are spooled)

``write_split`` turns a rejected batch into "written" and "rejected lines with a reason": the
server's message names the line (parse errors) or the field (type conflicts); lines it cannot
attribute are found by halving. Re-sending a line that was already written is harmless —
writes are idempotent (same series and timestamp overwrite).

What counts as a successful write. A proxy or a broken server answering ``200`` with a page
of its own must not pass for InfluxDB having stored the batch (PITFALLS.md: 1,119 of 3,311
readings were lost that way). The servers answer:

    1.x /write               204, empty body, ``X-Influxdb-Version`` (1.6.7 measured here)
    2.x /write (v1 compat)   204, empty body, ``X-Influxdb-Version`` (documented)
    3.x /write (v1 compat)   204, empty body (Core/Enterprise/Cloud, documented)

so a write succeeded on ``204``, or on another 2xx only with an empty body AND the
``X-Influxdb-Version`` header (a server that answers 200, e.g. behind a rewriting gateway).
Any other 2xx is ``InfluxUnavailable`` ("answered 200 with a body that is not InfluxDB's"):
the caller keeps the batch (spool) and retries.

Partial writes: "points beyond retention policy dropped=N" (1.x: HTTP 400; 2.x: 422 or 400;
3.x: 400) — the OTHER points of the batch ARE written. ``write_split`` finds which lines were
dropped: InfluxDB drops exactly the points older than now minus the RP's duration, so they
are the N oldest lines; one more request confirms it (all N dropped again), else halving
finds them. They come back in ``WriteOutcome.expired`` with the reason — a permanent
rejection, never retried.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import logging
import re
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from facility.errors import ConfigError, StorageError
from facility.redact import redact_url

log = logging.getLogger(__name__)


class InfluxUnavailable(StorageError):
    """InfluxDB could not be reached, timed out or failed (5xx): retry later."""


class InfluxRejected(StorageError):
    """InfluxDB refused (part of) a write as invalid (4xx): those lines never go in as is."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class InfluxAuthError(StorageError, ConfigError):
    """Credentials refused (401/403) or the database is missing (404): fix the configuration."""


@dataclass(frozen=True, slots=True)
class QuerySeries:
    """One series of a query result: its measurement, tags, columns and rows."""

    name: str
    tags: dict[str, str]
    columns: list[str]
    values: list[list[Any]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.values]


@dataclass(frozen=True, slots=True)
class Rejected:
    """A line InfluxDB will not take, and why (its own words)."""

    line: bytes
    reason: str


@dataclass
class WriteOutcome:
    """What became of a batch: lines written, lines rejected, lines dropped as too old."""

    written: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    # "points beyond retention policy": older than the RP keeps; InfluxDB dropped them and
    # will drop them again (permanent, not retried)
    expired: list[Rejected] = field(default_factory=list)
    requests: int = 0


# 1.x: partial write: field type conflict: input field "x" on measurement "m" is type string,
# already exists as type float dropped=2
_CONFLICT_RE = re.compile(
    r'field type conflict: input field \\?"(?P<field>(?:[^"\\]|\\.)+)\\?" on measurement '
    r'\\?"(?P<measurement>(?:[^"\\]|\\.)+)\\?" is type (?P<type>\w+), already exists as type '
    r"(?P<existing>\w+)"
)
_INVALID_FIELD_RE = re.compile(
    r'invalid field name: input field \\?"(?P<field>(?:[^"\\]|\\.)+)\\?" on measurement '
    r'\\?"(?P<measurement>(?:[^"\\]|\\.)+)\\?"'
)
_DROPPED_RE = re.compile(r"dropped=(\d+)")
_EXPIRED = "points beyond retention policy"
EXPIRED_REASON = (
    "points beyond retention policy: older than the retention policy keeps "
    "(dropped by InfluxDB, not retried)"
)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


class InfluxClient:
    """A kept-alive HTTP connection to one InfluxDB database (thread-safe, one request at a
    time: give each concurrent user its own client)."""

    def __init__(
        self,
        url: str,
        database: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout: float = 10.0,
        retention_policy: str | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"InfluxDB URL {redact_url(url)!r}: expected http://host:port or https://..."
            )
        if not database:
            raise ConfigError("InfluxDB database: expected a name (2.x/3.x: the DBRP database)")
        self.url = redact_url(url.rstrip("/"))  # for messages only: no password
        self.database = database
        self.timeout = timeout
        self.retention_policy = retention_policy
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 8086)
        self._base = parts.path.rstrip("/")  # behind a reverse proxy under a path
        self._headers: dict[str, str] = {}
        if token:
            self._headers["Authorization"] = f"Token {token}"
        elif username:
            basic = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self._headers["Authorization"] = f"Basic {basic}"
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    # -- transport ---------------------------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._https:
                self._conn = http.client.HTTPSConnection(
                    self._host,
                    self._port,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                self._conn = http.client.HTTPConnection(
                    self._host, self._port, timeout=self.timeout
                )
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes, str]:
        """One request; a kept-alive connection the server closed meanwhile is retried once
        on a fresh one (safe: writes are idempotent, queries read)."""
        with self._lock:
            for attempt in (1, 2):
                conn = self._connection()
                try:
                    conn.request(method, self._base + path, body=body, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                    if response.will_close:
                        conn.close()
                        self._conn = None
                    return response.status, data, response.getheader("X-Influxdb-Version", "")
                except (
                    http.client.RemoteDisconnected,
                    BrokenPipeError,
                    ConnectionResetError,
                ) as exc:
                    conn.close()
                    self._conn = None
                    if attempt == 2:
                        raise InfluxUnavailable(
                            f"InfluxDB {self.url}: connection lost: {exc}"
                        ) from exc
                except TimeoutError as exc:
                    conn.close()
                    self._conn = None
                    raise InfluxUnavailable(
                        f"InfluxDB {self.url}: no answer within {self.timeout:g} s"
                    ) from exc
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    self._conn = None
                    raise InfluxUnavailable(f"InfluxDB {self.url}: {exc}") from exc
        raise AssertionError("unreachable")

    def _error(self, status: int, body: bytes, what: str) -> StorageError:
        try:
            answer = json.loads(body)
            # 1.x: {"error": ...}; 2.x/3.x: {"code": ..., "message": ...}
            detail = str(answer.get("error") or answer.get("message") or "")
        except (ValueError, AttributeError, RecursionError):
            detail = body[:300].decode(errors="replace").strip()
        message = f"InfluxDB {self.url} {what}: HTTP {status}: {detail}"
        if status in (401, 403):
            return InfluxAuthError(message + " (check the username/password or token)")
        if status == 404 and "database not found" in detail:
            return InfluxAuthError(message + " (run `facility gateway setup`)")
        if status >= 500 or status in (404, 408, 429):
            return InfluxUnavailable(message)
        return InfluxRejected(message, status)

    # -- API ---------------------------------------------------------------------------------

    def ping(self) -> str:
        """The server's version; InfluxUnavailable if it does not answer, or if what answers
        is not InfluxDB (a 200 from a proxy must not say "InfluxDB is back")."""
        status, body, version = self._request("GET", "/ping", None, dict(self._headers))
        if status not in (200, 204):
            raise self._error(status, body, "ping")
        if version:
            return version
        if status == 200:  # 3.x may answer 200 with {"version": ...}
            with contextlib.suppress(ValueError, AttributeError, RecursionError):
                answer = json.loads(body[:4096])
                if isinstance(answer, dict) and answer.get("version"):
                    return str(answer["version"])
        if status == 204 and not body:
            return "unknown"
        raise InfluxUnavailable(
            f"InfluxDB {self.url} ping: answered {status} without X-Influxdb-Version: "
            f"not InfluxDB ({_excerpt(body)})"
        )

    def write(self, lines: bytes, *, retention_policy: str | None = None) -> None:
        """Write line protocol (millisecond timestamps). Raises InfluxUnavailable,
        InfluxRejected (with the server's message) or InfluxAuthError."""
        params = {"db": self.database, "precision": "ms"}
        rp = retention_policy or self.retention_policy
        if rp:
            params["rp"] = rp
        headers = {**self._headers, "Content-Type": "text/plain; charset=utf-8"}
        status, body, version = self._request("POST", "/write?" + urlencode(params), lines, headers)
        if status == 204:
            return
        if 200 <= status < 300:
            if not body.strip() and version:
                return  # an InfluxDB that answers 200 (see the module docstring)
            # a proxy or broken server: nothing says the batch was stored; keep it
            what = (
                f"a body that is not InfluxDB's: {_excerpt(body)}"
                if body.strip()
                else ("an empty body and no X-Influxdb-Version header: not InfluxDB")
            )
            raise InfluxUnavailable(f"InfluxDB {self.url} write: answered {status} with {what}")
        raise self._error(status, body, "write")

    def write_split(
        self, lines: Sequence[bytes], *, retention_policy: str | None = None
    ) -> WriteOutcome:
        """Write ``lines`` (each one line, newline-terminated); lines the server refuses are
        returned with its reason instead of failing the batch. Raises InfluxUnavailable or
        InfluxAuthError when nothing can be written now (the caller keeps the batch)."""
        outcome = WriteOutcome()
        self._write_part(list(lines), outcome, retention_policy, depth=0)
        return outcome

    def _write_part(
        self, lines: list[bytes], outcome: WriteOutcome, rp: str | None, depth: int
    ) -> None:
        if not lines:
            return
        outcome.requests += 1
        try:
            self.write(b"".join(lines), retention_policy=rp)
        except InfluxRejected as exc:
            message = str(exc)
            if (
                _EXPIRED in message
                and "field type conflict" not in message
                and ("unable to parse" not in message)
            ):
                # whatever was not too old went in; find which lines were too old
                dropped = _DROPPED_RE.search(message)
                count = int(dropped.group(1)) if dropped else 0
                self._expired_part(lines, count, outcome, rp, depth)
                return
            bad = locate_rejected(lines, message)
            if bad:
                good = [line for i, line in enumerate(lines) if i not in bad]
                outcome.rejected.extend(Rejected(lines[i], bad[i]) for i in sorted(bad))
                self._write_part(good, outcome, rp, depth + 1)
                return
            if len(lines) == 1:
                outcome.rejected.append(Rejected(lines[0], _reason(message)))
                return
            if depth > 64:  # cannot happen with halving; a guard against a server that lies
                outcome.rejected.extend(Rejected(line, _reason(message)) for line in lines)
                return
            middle = len(lines) // 2
            self._write_part(lines[:middle], outcome, rp, depth + 1)
            self._write_part(lines[middle:], outcome, rp, depth + 1)
            return
        outcome.written += len(lines)

    def _expired_part(
        self, lines: list[bytes], count: int, outcome: WriteOutcome, rp: str | None, depth: int
    ) -> None:
        """``lines`` were written except ``count`` of them, beyond the retention policy."""
        if count >= len(lines):
            outcome.expired.extend(Rejected(line, EXPIRED_REASON) for line in lines)
            return
        if count > 0:
            # InfluxDB drops the points older than now - RP duration: the `count` oldest
            # lines (equal timestamps fall on the same side). Confirm with one request that
            # writes nothing if right: all of them dropped again.
            order = sorted(range(len(lines)), key=lambda i: _timestamp(lines[i]))
            oldest = [lines[i] for i in order[:count]]
            if _timestamp(oldest[-1]) < _timestamp(lines[order[count]]):
                outcome.requests += 1
                try:
                    self.write(b"".join(oldest), retention_policy=rp)
                except InfluxRejected as exc:
                    again = _DROPPED_RE.search(str(exc))
                    if _EXPIRED in str(exc) and again and int(again.group(1)) == count:
                        outcome.expired.extend(Rejected(line, EXPIRED_REASON) for line in oldest)
                        outcome.written += len(lines) - count
                        return
                else:
                    outcome.written += len(lines)  # the RP changed meanwhile: all are in
                    return
        if len(lines) == 1 or depth > 64:
            outcome.expired.extend(Rejected(line, EXPIRED_REASON) for line in lines)
            return
        # halve: each half is written again (idempotent) and tells its own dropped count
        middle = len(lines) // 2
        self._write_part(lines[:middle], outcome, rp, depth + 1)
        self._write_part(lines[middle:], outcome, rp, depth + 1)

    def query(self, q: str, *, epoch: str = "ms") -> list[list[QuerySeries]]:
        """Run InfluxQL (one or more ``;``-separated statements); per statement, its series.
        Times come back as epoch integers in ``epoch`` units."""
        params = {"db": self.database, "q": q, "epoch": epoch}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        headers = {**self._headers, "Content-Type": "application/x-www-form-urlencoded"}
        status, body, _ = self._request("POST", "/query", urlencode(params).encode(), headers)
        if status != 200:
            raise self._error(status, body, f"query {q[:120]!r}")
        try:
            answer = json.loads(body)
        except ValueError as exc:
            raise InfluxUnavailable(f"InfluxDB {self.url}: unreadable answer: {exc}") from exc
        if "error" in answer:
            raise InfluxRejected(f"InfluxDB {self.url}: {q[:120]!r}: {answer['error']}", status)
        statements: list[list[QuerySeries]] = []
        for result in answer.get("results", []):
            if "error" in result:
                raise InfluxRejected(f"InfluxDB {self.url}: {q[:120]!r}: {result['error']}", 400)
            statements.append(
                [
                    QuerySeries(
                        s.get("name", ""), s.get("tags") or {}, s["columns"], s.get("values", [])
                    )
                    for s in result.get("series", [])
                ]
            )
        return statements

    def query_one(self, q: str, *, epoch: str = "ms") -> list[QuerySeries]:
        """The series of a single statement."""
        statements = self.query(q, epoch=epoch)
        return statements[0] if statements else []

    def create_database(self) -> None:
        """Create the database (idempotent; 1.x — on 2.x/3.x create a bucket and a DBRP
        mapping instead, see docs/historian.md)."""
        self.query(f"CREATE DATABASE {quote_ident(self.database)}")


def quote_ident(name: str) -> str:
    """An InfluxQL identifier in double quotes."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(text: str) -> str:
    """An InfluxQL string literal in single quotes."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _excerpt(body: bytes) -> str:
    """The start of an unexpected answer, printable, for the log."""
    return repr(body[:120].decode("utf-8", errors="replace"))


def _timestamp(line: bytes) -> float:
    """The timestamp of one line (its last token); +inf without one (the server's now)."""
    tail = line.rstrip(b"\n").rsplit(b" ", 1)[-1]
    try:
        return float(int(tail))
    except ValueError:
        return float("inf")


def _reason(message: str) -> str:
    return message.split(": HTTP ", 1)[-1]


def _line_measurement_fields(line: bytes) -> tuple[str, dict[str, str]]:
    """Measurement and field name → value text of one line (enough to match server errors)."""
    text = line.decode(errors="replace").rstrip("\n")
    key, fields_text = _split_unescaped(text, " ", 2)[:2] if " " in text else (text, "")
    measurement = _unescape(_split_unescaped(key, ",", 1)[0])
    fields: dict[str, str] = {}
    for part in _split_fields(fields_text):
        name, _, value = part.partition("=")
        fields[_unescape(name)] = value
    return measurement, fields


def _split_unescaped(text: str, sep: str, maxsplit: int) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    i, in_quotes = 0, False
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if char == '"':
            in_quotes = not in_quotes
        if char == sep and not in_quotes and len(parts) < maxsplit:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return parts


def _split_fields(text: str) -> list[str]:
    return [p for p in _split_unescaped(text, ",", 10_000) if p]


def _value_type(value: str) -> str:
    if value.startswith('"'):
        return "string"
    if value in ("t", "T", "true", "True", "TRUE", "f", "F", "false", "False", "FALSE"):
        return "boolean"
    if value.endswith("i"):
        return "integer"
    if value.endswith("u"):
        return "unsigned"
    return "float"


def locate_rejected(lines: Sequence[bytes], message: str) -> dict[int, str]:
    """Which of ``lines`` the server's error message names, with the reason for each.

    Parse errors quote the line; a field type conflict names the field, the measurement and
    the type already stored, so every line writing that field with another type is bad; an
    invalid field name (e.g. ``time``) names the field. Empty if the message names nothing.
    """
    bad: dict[int, str] = {}
    texts = [line.decode(errors="replace").rstrip("\n") for line in lines]
    if "unable to parse '" in message:
        for i, text in enumerate(texts):
            prefix = f"unable to parse '{text}': "
            where = message.find(prefix)
            if where >= 0:
                reason = message[where + len(prefix) :].split("\n", 1)[0]
                bad[i] = f"unable to parse: {reason.split(' dropped=')[0]}"
    conflicts = [
        (_unescape(m.group("measurement")), _unescape(m.group("field")), m.group("existing"))
        for m in _CONFLICT_RE.finditer(message)
    ]
    invalid = [
        (_unescape(m.group("measurement")), _unescape(m.group("field")))
        for m in _INVALID_FIELD_RE.finditer(message)
    ]
    if conflicts or invalid:
        for i, line in enumerate(lines):
            if i in bad:
                continue
            measurement, fields = _line_measurement_fields(line)
            for c_measurement, c_field, existing in conflicts:
                value = fields.get(c_field)
                if (
                    measurement == c_measurement
                    and value is not None
                    and _value_type(value) != existing
                ):
                    bad[i] = (
                        f"field type conflict: {c_field!r} is {_value_type(value)}, "
                        f"InfluxDB already stores it as {existing}"
                    )
            for c_measurement, c_field in invalid:
                if measurement == c_measurement and c_field in fields:
                    bad[i] = f"invalid field name {c_field!r}"
    return bad
