"""Real ``influxd``, ``mosquitto`` and PostgreSQL processes on loopback, for the demo and tests.

One implementation shared by the demo launcher and the test fixtures, so what the tests run is
what the demo runs. Each server gets a generated configuration, its data and its log file under
``data_dir``, and binds 127.0.0.1 only::

    with InfluxServer(tmp / "influxd") as influx, MosquittoServer(tmp / "mqtt") as broker:
        print(influx.url, broker.display_url)
        # http://127.0.0.1:41234  mqtt://facility-test:***@127.0.0.1:38211

``port=0`` picks a free port: a socket is bound to port 0, the kernel's choice is read and the
socket closed, then the server binds it. Another process could take the port in that gap; the
server then fails with "address in use" and ``start()`` retries with fresh ports (only for
ports it picked itself). ``restart()`` keeps the same ports and data directory, so clients
reconnect to the same URL and find the data written before the stop.

Start-up failures raise :class:`facility.errors.CommError` with the tail of the server's log;
a missing binary raises :class:`facility.errors.ConfigError` naming the Debian package.
"""

from __future__ import annotations

import abc
import atexit
import contextlib
import http.client
import json
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from facility.errors import CommError, ConfigError, StorageError
from facility.redact import redact_url

if TYPE_CHECKING:
    from gateway.bus_acl import BusAccount

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# Binaries are looked up on PATH first, then where the Debian packages put them (root's PATH
# has /usr/sbin, a normal user's often does not; mosquitto lives there).
_EXTRA_BIN_DIRS = ("/usr/sbin", "/usr/bin")
_START_ATTEMPTS = 3  # only when we picked the port ourselves (see module docstring)

# Servers still running when the interpreter exits (a test session interrupted, a launcher
# that crashed) are killed so they do not outlive their owner.
_live: weakref.WeakSet[_ServerProcess] = weakref.WeakSet()


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_live):
        server.kill()


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that is free right now on ``host`` (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def find_binary(name: str, package: str) -> Path:
    """The path of ``name`` on PATH or in /usr/sbin, /usr/bin; ConfigError if absent."""
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(_EXTRA_BIN_DIRS))
    if found is None:
        raise ConfigError(
            f"{name}: not found on PATH or in {', '.join(_EXTRA_BIN_DIRS)}; "
            f"install the Debian package '{package}' (make install does it)"
        )
    return Path(found)


class _ServerProcess(abc.ABC):
    """A server child process with a generated config, data and log under ``data_dir``."""

    name: ClassVar[str]
    package: ClassVar[str]
    log_name: ClassVar[str]

    def __init__(
        self, data_dir: Path | str, port: int = 0, *, startup_timeout: float = 30.0
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = LOOPBACK
        self.startup_timeout = startup_timeout
        self._port = port
        self._wanted_port = port
        # Retry on "address in use" only when we picked the port (see module docstring).
        self._auto_port = port == 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0  # where the current start's output begins in the log file

    # -- what subclasses provide -------------------------------------------------------------

    def _pick_ports(self) -> None:
        """Choose the ports that were asked as 0 (the ones given stay)."""
        self._port = self._wanted_port or free_port(self.host)

    def _ports_known(self) -> bool:
        return self._port != 0

    @abc.abstractmethod
    def _write_config(self) -> list[str]:
        """Write the config file under data_dir; return the command line to start the server."""

    @abc.abstractmethod
    def _ready(self) -> bool:
        """True once the server answers its protocol (called repeatedly while starting)."""

    def _child_env(self) -> dict[str, str]:
        return dict(os.environ)

    # -- public API --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The listening port (chosen on the first start when created with port=0)."""
        if self._port == 0:
            raise CommError(f"{self.name}: no port yet; call start() first")
        return self._port

    @property
    @abc.abstractmethod
    def url(self) -> str:
        """Where clients reach the server."""

    @property
    def display_url(self) -> str:
        """:attr:`url` fit for a log line or a banner (no password in it)."""
        return self.url

    @property
    def log_path(self) -> Path:
        return self.data_dir / self.log_name

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start the server and wait until it answers; CommError with its log tail if not."""
        if self.running:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        attempts = _START_ATTEMPTS if self._auto_port else 1
        for attempt in range(1, attempts + 1):
            if attempt > 1 or not self._ports_known():
                self._pick_ports()
            try:
                self._launch()
                break
            except CommError:
                if (
                    attempt == attempts
                    or "address already in use" not in self._attempt_log().lower()
                ):
                    raise
                log.warning("%s: port taken before it could bind, retrying", self.name)
        log.info(
            "%s started pid=%s url=%s data_dir=%s",
            self.name,
            self.pid,
            self.display_url,
            self.data_dir,
        )
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop gracefully (SIGTERM), then SIGKILL if it has not exited after ``timeout`` s."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning(
                    "%s pid=%s ignored SIGTERM for %.0f s; killing", self.name, process.pid, timeout
                )
                process.kill()
                process.wait()
        self._forget()
        log.info("%s stopped url=%s", self.name, self.display_url)

    def kill(self) -> None:
        """Kill at once (SIGKILL), as a crash or power cut would: for failure tests."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.kill()
            process.wait()
        self._forget()

    def restart(self, *, kill: bool = False) -> Self:
        """Stop (or kill) and start again on the same port with the same data directory."""
        if kill:
            self.kill()
        else:
            self.stop()
        auto_port, self._auto_port = self._auto_port, False  # the same port, never a new one
        try:
            return self.start()
        finally:
            self._auto_port = auto_port

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's log, for error messages."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log written)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        port = self._port or "?"
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {self.host}:{port} {state} {self.data_dir}>"

    # -- internals ---------------------------------------------------------------------------

    def _launch(self) -> None:
        command = self._write_config()
        with self.log_path.open("ab") as log_file:
            self._log_offset = log_file.tell()
            # Own session: a Ctrl-C in the terminal reaches the launcher, which stops the
            # servers in order, instead of killing them under the running clients.
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                env=self._child_env(),
                start_new_session=True,
            )
        _live.add(self)
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._process.poll() is not None:
                code = self._process.returncode
                self._forget()
                raise CommError(
                    f"{self.name} exited with code {code} while starting on "
                    f"{self.host}:{self._port}; log {self.log_path}:\n{self._attempt_log()}"
                )
            try:
                ready = self._ready()
            except CommError:  # it answers, and says it never will serve us
                self.kill()
                raise
            if ready:
                return
            if time.monotonic() > deadline:
                self.kill()
                raise CommError(
                    f"{self.name} did not answer on {self.host}:{self._port} within "
                    f"{self.startup_timeout:.0f} s; log {self.log_path}:\n{self._attempt_log()}"
                )
            time.sleep(0.05)

    def _attempt_log(self, lines: int = 10) -> str:
        """The tail of what the server wrote during the current start attempt."""
        try:
            with self.log_path.open("rb") as log_file:
                log_file.seek(self._log_offset)
                text = log_file.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log written)"
        return "\n".join(text.splitlines()[-lines:]) or "(nothing logged)"

    def _forget(self) -> None:
        self._process = None
        _live.discard(self)


class InfluxServer(_ServerProcess):
    """Debian's ``influxd`` (1.6.7): HTTP API and RPC on loopback, everything under data_dir.

    Usage reporting, the internal ``_internal`` statistics store, the HTTP access log and every
    UDP/graphite/collectd/opentsdb/ifql listener are off: the instance serves its HTTP API only.
    """

    name = "influxd"
    package = "influxdb"
    log_name = "influxd.log"

    def __init__(
        self,
        data_dir: Path | str,
        port: int = 0,
        *,
        rpc_port: int = 0,
        startup_timeout: float = 30.0,
    ) -> None:
        super().__init__(data_dir, port, startup_timeout=startup_timeout)
        self._rpc_port = rpc_port
        self._wanted_rpc_port = rpc_port
        self._auto_port = port == 0  # retry with a new pair only if the HTTP port was ours

    @property
    def url(self) -> str:
        """Base URL of the HTTP API, e.g. ``http://127.0.0.1:41234``."""
        return f"http://{self.host}:{self.port}"

    @property
    def rpc_port(self) -> int:
        """The backup/restore RPC port (``influxd backup -host 127.0.0.1:<rpc_port>``)."""
        return self._rpc_port

    @property
    def config_path(self) -> Path:
        return self.data_dir / "influxdb.conf"

    def _pick_ports(self) -> None:
        self._port = self._wanted_port or free_port(self.host)
        self._rpc_port = self._wanted_rpc_port or free_port(self.host)
        while self._rpc_port == self._port:
            self._rpc_port = free_port(self.host)

    def _ports_known(self) -> bool:
        return self._port != 0 and self._rpc_port != 0

    def _write_config(self) -> list[str]:
        dirs = {part: self.data_dir / part for part in ("meta", "data", "wal")}
        for path in dirs.values():
            path.mkdir(exist_ok=True)
        config = f"""\
# Generated by devtools.services.InfluxServer; rewritten on every start.
reporting-disabled = true
bind-address = "{self.host}:{self._rpc_port}"

[meta]
  dir = {_toml_str(dirs["meta"])}

[data]
  dir = {_toml_str(dirs["data"])}
  wal-dir = {_toml_str(dirs["wal"])}
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "{self.host}:{self._port}"
  log-enabled = false
  pprof-enabled = false

[ifql]
  enabled = false

[logging]
  format = "logfmt"
  level = "info"

[[graphite]]
  enabled = false

[[collectd]]
  enabled = false

[[opentsdb]]
  enabled = false

[[udp]]
  enabled = false

[continuous_queries]
  enabled = true
"""
        self.config_path.write_text(config, encoding="utf-8")
        binary = find_binary("influxd", self.package)
        return [str(binary), "run", "-config", str(self.config_path)]

    def _child_env(self) -> dict[str, str]:
        # influxd lets INFLUXDB_* variables override its config file: drop them, so the
        # instance is exactly what the generated file says.
        return {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB_")}

    def _ready(self) -> bool:
        try:
            status, _ = self._request("GET", "/ping", timeout=1.0)
        except OSError:
            return False
        return status == 204

    # -- small admin helpers for the instance we started (fixtures, demo launcher) -----------

    def query(self, q: str, *, db: str | None = None) -> dict[str, Any]:
        """Run an InfluxQL statement via ``POST /query``; StorageError if it fails."""
        params = {"q": q, **({"db": db} if db else {})}
        status, body = self._request(
            "POST",
            "/query",
            body=urllib.parse.urlencode(params).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            answer: dict[str, Any] = json.loads(body) if body else {}
        except ValueError:
            answer = {}
        errors = [r["error"] for r in answer.get("results", []) if "error" in r]
        if status != 200 or "error" in answer or errors:
            detail = answer.get("error") or "; ".join(errors) or body[:200].decode(errors="replace")
            raise StorageError(f"influxd {self.url}: {q!r} failed (HTTP {status}): {detail}")
        return answer

    def create_database(self, name: str) -> None:
        """Create database ``name`` (idempotent)."""
        self.query(f'CREATE DATABASE "{name}"')

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` and all its data (idempotent)."""
        self.query(f'DROP DATABASE "{name}"')

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


_MQTT_DISCONNECT = bytes([0xE0, 0])


def _mqtt_connect_packet(username: str, password: str) -> bytes:
    """MQTT 3.1.1 CONNECT with a clean session, keep-alive 10 s, an empty client id and a
    user name and password. The broker must answer CONNACK 0 (accepted): enough to know it
    serves MQTT and loaded its password file, without an MQTT client library here."""

    def text(value: str) -> bytes:
        raw = value.encode()
        return len(raw).to_bytes(2, "big") + raw

    body = text("MQTT") + bytes([4, 0xC2, 0, 10]) + text("") + text(username) + text(password)
    length, size = b"", len(body)
    while True:  # MQTT's variable-length "remaining length"
        digit, size = size % 128, size // 128
        length += bytes([digit | (0x80 if size else 0)])
        if not size:
            break
    return bytes([0x10]) + length + body


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """A TLS listener's CA, certificate and private key (PEM files)."""

    cafile: Path
    certfile: Path
    keyfile: Path


class MosquittoServer(_ServerProcess):
    """Debian's ``mosquitto`` (2.0): an MQTT listener on loopback, persistence under data_dir.

    **The bus is closed** (issue 11): ``allow_anonymous false``, a password file made with
    ``mosquitto_passwd -b`` and an ``acl_file`` computed by :mod:`gateway.bus_acl` from the
    ``accounts`` given (each service's role and sites), both 0600 and rewritten on every
    start. Passwords come from ``passwords`` or are generated with :mod:`secrets`. Unless
    ``test_account=False``, a full-access account ``facility-test`` is added for tests and
    tools, and :attr:`url` logs in with it (``mqtt://facility-test:<pw>@127.0.0.1:<port>``);
    :meth:`url_for` hands out one service's URL, :meth:`password_for` its password.

    ``tls`` adds a second listener (``mqtts://``, :attr:`tls_port`) with that CA, certificate
    and key; the same accounts and ACL apply to both listeners.

    ``max_queued_messages`` is raised from mosquitto's default of 1000, which silently drops
    QoS 1 messages for a subscriber that lags behind (PITFALLS.md); ``max_queued_bytes`` bounds
    what one client's queue may hold (an offline gateway session queues ~128 KB/s under the
    demo estates' load: 256 MiB is over half an hour of it, against the gateway's 10-minute
    session expiry), and ``persistent_client_expiration`` removes sessions of clients that
    never come back and asked for no expiry of their own. Production brokers need the same
    bounds (docs/historian.md).
    """

    name = "mosquitto"
    package = "mosquitto"
    log_name = "mosquitto.log"

    def __init__(
        self,
        data_dir: Path | str,
        port: int = 0,
        *,
        accounts: Iterable[BusAccount] = (),
        passwords: Mapping[str, str] | None = None,
        test_account: bool = True,
        tls: TlsFiles | None = None,
        tls_port: int = 0,
        max_queued_messages: int = 1_000_000,
        max_queued_bytes: int = 256 * 2**20,
        max_inflight_messages: int = 100,
        persistent_client_expiration: str = "1d",
        autosave_interval: int = 10,
        startup_timeout: float = 30.0,
    ) -> None:
        from gateway.bus_acl import TEST_ACCOUNT, BusAccount, BusRole, check_accounts

        super().__init__(data_dir, port, startup_timeout=startup_timeout)
        self.max_queued_messages = max_queued_messages
        self.max_queued_bytes = max_queued_bytes
        self.persistent_client_expiration = persistent_client_expiration
        self.max_inflight_messages = max_inflight_messages
        self.autosave_interval = autosave_interval
        self.accounts = list(accounts)
        if test_account:
            self.accounts.append(BusAccount(TEST_ACCOUNT, BusRole.TEST))
        if not self.accounts:
            raise ConfigError("mosquitto: a closed bus needs at least one account")
        check_accounts(self.accounts)  # before any file is written: names go into them
        given = dict(passwords or {})
        self._passwords = {
            a.name: given.get(a.name) or secrets.token_urlsafe(18) for a in self.accounts
        }
        self._login = TEST_ACCOUNT if test_account else self.accounts[0].name
        self.tls = tls
        self._tls_port = tls_port
        self._wanted_tls_port = tls_port

    @property
    def url(self) -> str:
        """``mqtt://facility-test:<password>@127.0.0.1:<port>`` (the test account; without
        one, the first account's)."""
        return self.url_for(self._login)

    @property
    def credentials(self) -> tuple[str, str]:
        """(user name, password) of :attr:`url`'s account, for clients that take them apart."""
        return self._login, self._passwords[self._login]

    def password_for(self, account: str) -> str:
        """The password of ``account``; ConfigError for a name the broker does not know."""
        try:
            return self._passwords[account]
        except KeyError:
            raise ConfigError(f"mosquitto: no account {account!r} on this broker") from None

    def url_for(self, account: str, *, tls: bool = False, with_password: bool = True) -> str:
        """The URL ``account`` logs in with: ``mqtt://<account>:<pw>@127.0.0.1:<port>``, or
        ``mqtts://`` on the TLS listener; ``with_password=False`` leaves the password out
        (for ``FACILITY_MQTT__URL``, with the password in ``FACILITY_MQTT__PASSWORD``)."""
        password = self.password_for(account)
        user = urllib.parse.quote(account, safe="")
        if with_password:
            user += ":" + urllib.parse.quote(password, safe="")
        if tls:
            return f"mqtts://{user}@{self.host}:{self.tls_port}"
        return f"mqtt://{user}@{self.host}:{self.port}"

    @property
    def display_url(self) -> str:
        return redact_url(self.url)

    @property
    def tls_port(self) -> int:
        """The TLS listener's port (CommError without ``tls`` or before the first start)."""
        if self.tls is None or self._tls_port == 0:
            raise CommError(f"{self.name}: no TLS listener (give tls=..., then start())")
        return self._tls_port

    @property
    def config_path(self) -> Path:
        return self.data_dir / "mosquitto.conf"

    @property
    def password_file(self) -> Path:
        return self.data_dir / "passwd"

    @property
    def acl_path(self) -> Path:
        return self.data_dir / "acl"

    def _pick_ports(self) -> None:
        self._port = self._wanted_port or free_port(self.host)
        if self.tls is not None:
            self._tls_port = self._wanted_tls_port or free_port(self.host)
            while self._tls_port == self._port:
                self._tls_port = free_port(self.host)

    def _ports_known(self) -> bool:
        return self._port != 0 and (self.tls is None or self._tls_port != 0)

    def _write_secrets(self) -> None:
        """The password file (``mosquitto_passwd -b``) and the ACL, both 0600, from scratch."""
        from gateway.bus_acl import mosquitto_acl

        _write_private(self.acl_path, mosquitto_acl(self.accounts))
        _write_private(self.password_file, "")
        passwd = find_binary("mosquitto_passwd", self.package)
        for account in self.accounts:
            # -b takes the password on the command line: visible in ps for a moment, to this
            # machine's users only; the launcher serves loopback test and demo brokers.
            done = subprocess.run(
                [
                    str(passwd),
                    "-b",
                    str(self.password_file),
                    account.name,
                    self._passwords[account.name],
                ],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=False,
            )
            if done.returncode != 0:
                raise CommError(
                    f"mosquitto_passwd failed for account {account.name!r} in "
                    f"{self.password_file}: {done.stderr.decode(errors='replace').strip()}"
                )
        self.password_file.chmod(0o600)

    def _write_config(self) -> list[str]:
        # As root mosquitto drops to user "mosquitto", which cannot write a data_dir owned by
        # whoever started us (pytest's 0700 temp dirs): stay the user we are.
        user = pwd.getpwuid(os.getuid()).pw_name
        self._write_secrets()
        tls_listener = ""
        if self.tls is not None:
            tls_listener = f"""listener {self._tls_port} {self.host}
cafile {self.tls.cafile}
certfile {self.tls.certfile}
keyfile {self.tls.keyfile}
"""
        config = f"""# Generated by devtools.services.MosquittoServer; rewritten on every start.
# A closed bus: every client logs in, and may use only the topics its ACL grants
# (gateway/bus_acl.py). These settings hold for every listener below.
per_listener_settings false
allow_anonymous false
password_file {self.password_file}
acl_file {self.acl_path}
user {user}
persistence true
persistence_location {self.data_dir}
# Saved at exit and every N s: a SIGKILL loses at most N s of retained/queued state.
autosave_interval {self.autosave_interval}
# Default 1000 silently drops QoS 1 messages for a lagging subscriber. Per client, and
# both bounds hold: an abandoned persistent session cannot grow the broker without limit.
max_queued_messages {self.max_queued_messages}
max_queued_bytes {self.max_queued_bytes}
# Sessions of clients that never come back (and set no expiry of their own) end after this.
persistent_client_expiration {self.persistent_client_expiration}
max_inflight_messages {self.max_inflight_messages}
log_dest stderr
log_type error
log_type warning
log_type notice
log_type information
connection_messages false
log_timestamp_format %Y-%m-%dT%H:%M:%S

listener {self._port} {self.host}
{tls_listener}"""
        _write_private(self.config_path, config)
        binary = find_binary("mosquitto", self.package)
        return [str(binary), "-c", str(self.config_path)]

    def _ready(self) -> bool:
        try:
            with socket.create_connection((self.host, self._port), timeout=1.0) as sock:
                sock.sendall(_mqtt_connect_packet(*self.credentials))
                connack = _recv_exactly(sock, 4)
                with contextlib.suppress(OSError):
                    sock.sendall(_MQTT_DISCONNECT)
        except OSError:
            return False
        if connack[0] == 0x20 and connack[3] != 0:
            # it serves MQTT but refuses our account: waiting will not change that
            raise CommError(
                f"mosquitto on {self.host}:{self._port} refused account {self._login!r} "
                f"(CONNACK {connack[3]}); password file {self.password_file}"
            )
        return connack[0] == 0x20 and connack[3] == 0


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only its owner can read (0600 from the first byte)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    path.chmod(0o600)  # an existing file keeps its mode through O_CREAT: set it


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
    return data


def _toml_str(path: Path) -> str:
    return json.dumps(str(path))  # a JSON string is a valid TOML basic string


def _postgres_bin(name: str) -> Path:
    """A PostgreSQL server binary: on PATH, else in Debian's versioned directory."""
    found = shutil.which(name)
    if found:
        return Path(found)
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for directory in versions:
        if (directory / name).exists():
            return directory / name
    raise ConfigError(
        f"{name}: not found on PATH or in /usr/lib/postgresql/*/bin; install the Debian "
        "package 'postgresql' (make install does it)"
    )


class PostgresServer(_ServerProcess):
    """Debian's PostgreSQL: a throw-away cluster (``initdb``) on loopback, trust auth for the
    one database user ``facility``, fsync off (test data, not precious).

    PostgreSQL refuses to run as root: as root the cluster is made and run as the ``postgres``
    system user (created by the Debian package), in a directory of its own under the system's
    temporary directory (pytest's folders are private to root); ``data_dir`` keeps the log.
    """

    name = "postgres"
    package = "postgresql"
    log_name = "postgres.log"
    database = "facility"
    user = "facility"

    def __init__(
        self, data_dir: Path | str, port: int = 0, *, startup_timeout: float = 60.0
    ) -> None:
        super().__init__(data_dir, port, startup_timeout=startup_timeout)
        self._cluster: Path | None = None
        self._as: list[str] = []

    @property
    def url(self) -> str:
        """A SQLAlchemy URL: ``postgresql+psycopg://facility@127.0.0.1:<port>/facility``."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{self.database}"

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def _write_config(self) -> list[str]:
        if self._cluster is None:
            self._init_cluster()
        assert self._cluster is not None
        return [
            *self._as,
            str(_postgres_bin("postgres")),
            "-D",
            str(self._cluster / "data"),
            "-h",
            self.host,
            "-p",
            str(self._port),
            "-k",
            str(self._cluster),
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
        ]

    def _init_cluster(self) -> None:
        import tempfile

        cluster = Path(tempfile.mkdtemp(prefix="facility-pg-"))
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(cluster, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        result = subprocess.run(
            [
                *self._as,
                str(_postgres_bin("initdb")),
                "-D",
                str(cluster / "data"),
                "-U",
                self.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            shutil.rmtree(cluster, ignore_errors=True)
            raise CommError(f"initdb failed ({result.returncode}): {result.stderr[-2000:]}")
        self._cluster = cluster

    def _ready(self) -> bool:
        try:
            with socket.create_connection((self.host, self._port), timeout=0.5):
                pass
        except OSError:
            return False
        created = subprocess.run(
            [
                *self._as,
                str(_postgres_bin("psql")),
                "-h",
                self.host,
                "-p",
                str(self._port),
                "-U",
                self.user,
                "-d",
                "postgres",
                "-tAc",
                f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if created.returncode != 0:
            return False  # still starting ("the database system is starting up")
        if created.stdout.strip() != "1":
            self.create_database(self.database)
        return True

    def create_database(self, name: str) -> str:
        """A new empty database on this server; returns its URL."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"database name {name!r}: letters, digits and _ only")
        subprocess.run(
            [
                *self._as,
                str(_postgres_bin("createdb")),
                "-h",
                self.host,
                "-p",
                str(self._port),
                "-U",
                self.user,
                name,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop a database made by ``create_database`` (its connections are ended)."""
        subprocess.run(
            [
                *self._as,
                str(_postgres_bin("dropdb")),
                "-h",
                self.host,
                "-p",
                str(self._port),
                "-U",
                self.user,
                "--force",
                "--if-exists",
                name,
            ],
            capture_output=True,
            text=True,
            check=True,
        )

    def remove(self) -> None:
        """Stop and delete the cluster's files."""
        self.stop()
        if self._cluster is not None:
            shutil.rmtree(self._cluster, ignore_errors=True)
            self._cluster = None
