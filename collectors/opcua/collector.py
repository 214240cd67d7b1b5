"""OPC UA collector: one session per server URL, shared by its assets, owned by one supervisor.

The supervisor opens the session (securely if configured), resolves every point of every
asset in one batched call (node ids checked first, browse paths translated in the profile's
namespace, whose index is looked up again at each connect), subscribes (one subscription for
the session) or leaves devices to polling, and then watches: a dropped connection,
a Bad subscription status, silence longer than three keep-alive periods or a failed probe
ends the session. It then reconnects with backoff and jitter and does it all again — node ids
re-resolved, subscriptions rebuilt — so a server restart never needs a collector restart.

A device's ``collect`` never waits on the supervisor: with a subscription it returns the
cached notifications (no wire traffic), when polling it does one batched Read, and while the
session is down it returns at once with every point ``bad_comm`` and ``failed_all``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from collectors.base import Collected
from collectors.opcua.errors import OPCUA_ERRORS, OpcuaCommError, OpcuaProtocolError
from collectors.opcua.model import (
    Problem,
    Sample,
    browse_path_of,
    good_reading,
    missing_reading,
    reading_of,
)
from collectors.opcua.security import OpcuaSecurity
from collectors.opcua.session import MonitorRequest, NodeRequest, OpcuaSession
from device_profiles.models import DeviceProfile, OpcuaDefaults, Point, PollClass
from facility.backoff import backoff_s
from facility.errors import FacilityError
from facility.types import Asset, OpcuaEndpoint, Quality, Reading

log = logging.getLogger(__name__)

SESSION_LOST = "session_lost"
NO_DATA = Problem("no_data", "no notification from the server yet")


@dataclass
class _Binding:
    """One device's points in one session: node keys, or the problem that left a point out."""

    keys: dict[str, int] = field(default_factory=dict)
    problems: dict[str, Problem] = field(default_factory=dict)
    polled: bool = False


class OpcuaDevice:
    """One asset (a folder ``Objects/<node_root>``) on a shared OPC UA session."""

    def __init__(self, asset: Asset, profile: DeviceProfile, owner: OpcuaCollector) -> None:
        if not isinstance(asset.endpoint, OpcuaEndpoint):
            raise FacilityError(f"asset {asset.asset_no}: not an OPC UA endpoint")
        self.asset = asset
        self.profile = profile
        self.owner = owner
        self.node_root = asset.endpoint.node_root
        self.defaults = profile.opcua or OpcuaDefaults()
        self.binding: _Binding | None = None
        self._points: dict[frozenset[PollClass], list[Point]] = {}
        self._said: dict[str, str] = {}  # point -> problem code already logged

    def node_requests(self) -> list[NodeRequest | None]:
        """Where each point is (None for a point without an OPC UA address)."""
        requests: list[NodeRequest | None] = []
        for point in self.profile.points:
            if point.opcua is None:
                requests.append(None)
                continue
            requests.append(
                NodeRequest(
                    point.opcua.node_id,
                    browse_path_of(point, self.node_root),
                    self.defaults.namespace_uri,
                )
            )
        return requests

    def points_of(self, classes: frozenset[PollClass]) -> list[Point]:
        points = self._points.get(classes)
        if points is None:
            points = self._points[classes] = [p for p in self.profile.points if p.poll in classes]
        return points

    async def collect(self, classes: frozenset[PollClass]) -> Collected:
        """The points of ``classes``: cached notifications, or one batched Read when polling."""
        points = self.points_of(classes)
        collected_ts = datetime.now(UTC)
        session, binding = self.owner.live_session, self.binding
        if session is None or binding is None:
            return self.owner.down_result(self, points, collected_ts)
        requests = 0
        if binding.polled:
            samples: dict[str, Sample | None] = {}
            read_problem: Problem | None = None
            names = [p.name for p in points if p.name in binding.keys]
            try:
                got, requests = await session.read([binding.keys[n] for n in names])
            except OpcuaCommError as exc:
                if exc.error_code == "timeout":  # this device is slow; the session lives on
                    return self.owner.down_result(self, points, collected_ts, exc)
                self.owner.session_failed(session, str(exc))
                return self.owner.down_result(self, points, collected_ts)
            except OpcuaProtocolError as exc:  # the Read service itself refused
                read_problem = Problem(exc.error_code, str(exc))
            except Exception as exc:  # a library surprise: never let it end the poll loop
                log.warning("opcua url=%s read failed", self.owner.url, exc_info=True)
                self.owner.session_failed(session, f"read failed: {exc!r}")
                return self.owner.down_result(self, points, collected_ts)
            else:
                samples = dict(zip(names, got, strict=True))
            readings, problems = self._readings(
                points, binding, samples, read_problem, collected_ts
            )
        else:
            readings, problems = self._cached_readings(points, binding, session, collected_ts)
        failed_all = bool(readings) and all(r.value is None for r in readings)
        if not failed_all and (problems or self._said):
            for point in points:
                self._note(point, problems.get(point.name))
        first = next(iter(problems.values()), None)
        return Collected(
            tuple(readings),
            session.rtt_ms,
            requests,
            first.code if first else None,
            first.message if first else None,
            failed_all=failed_all,
        )

    def _cached_readings(
        self,
        points: Sequence[Point],
        binding: _Binding,
        session: OpcuaSession,
        collected_ts: datetime,
    ) -> tuple[list[Reading], dict[str, Problem]]:
        """The readings of the latest notifications: a Good value in the profile's type
        straight from the cache (``good_reading``), anything else through ``_readings``."""
        site, asset_no = self.asset.site, self.asset.asset_no
        keys, latest = binding.keys, session.latest_change
        readings: list[Reading] = []
        problems: dict[str, Problem] = {}
        for point in points:
            key = keys.get(point.name)
            found = None if key is None else latest(key)
            if found is None:
                sample = None
            else:
                change, received = found
                _, value, variant_type, status, source_ts, server_ts = change
                reading = good_reading(
                    point,
                    value,
                    variant_type,
                    status,
                    source_ts,
                    server_ts,
                    received,
                    site,
                    asset_no,
                    collected_ts,
                )
                if reading is not None:
                    readings.append(reading)
                    continue
                sample = session.sample_of(change, received)
            more, problem = self._readings(
                (point,), binding, {point.name: sample}, None, collected_ts
            )
            readings += more
            problems.update(problem)
        return readings, problems

    def _readings(
        self,
        points: Sequence[Point],
        binding: _Binding,
        samples: dict[str, Sample | None],
        read_problem: Problem | None,
        collected_ts: datetime,
    ) -> tuple[list[Reading], dict[str, Problem]]:
        site, asset_no = self.asset.site, self.asset.asset_no
        readings: list[Reading] = []
        problems: dict[str, Problem] = {}
        for point in points:
            problem = binding.problems.get(point.name)
            if problem is not None or point.opcua is None:
                problems[point.name] = problem or Problem("no_address", "no opcua address")
                readings.append(
                    missing_reading(point, Quality.BAD_CONFIG, site, asset_no, collected_ts)
                )
                continue
            if read_problem is not None:
                problems[point.name] = read_problem
                readings.append(
                    missing_reading(point, Quality.BAD_DEVICE, site, asset_no, collected_ts)
                )
                continue
            sample = samples.get(point.name)
            if sample is None:
                problems[point.name] = NO_DATA
                readings.append(
                    missing_reading(point, Quality.BAD_COMM, site, asset_no, collected_ts)
                )
                continue
            reading, problem = reading_of(point, sample, site, asset_no, collected_ts)
            readings.append(reading)
            if problem is not None:
                problems[point.name] = problem
        return readings, problems

    def _note(self, point: Point, problem: Problem | None) -> None:
        """Log a point going bad once per kind of problem, and once when it is good again."""
        said = self._said.get(point.name)
        if problem is None or problem is NO_DATA:
            if said is not None and problem is None:
                del self._said[point.name]
                log.info(
                    "point back asset_no=%s point=%s (was %s)",
                    self.asset.asset_no,
                    point.name,
                    said,
                )
            return
        if said == problem.code:
            return
        self._said[point.name] = problem.code
        log.warning(
            "point bad asset_no=%s point=%s code=%s: %s",
            self.asset.asset_no,
            point.name,
            problem.code,
            problem.message,
        )


class OpcuaCollector:
    """One OPC UA server and the assets on it: one session, one supervisor."""

    def __init__(
        self,
        url: str,
        devices: Sequence[tuple[Asset, DeviceProfile]],
        *,
        security: OpcuaSecurity | None = None,
        timeout_s: float = 4.0,
        connect_wait_s: float = 10.0,
        backoff_min_s: float = 0.5,
        backoff_max_s: float = 30.0,
        probe_interval_s: float = 5.0,
        rng: random.Random | None = None,
    ) -> None:
        self.name = url
        self.url = url
        self.security = security
        self.timeout_s = timeout_s
        self.connect_wait_s = connect_wait_s
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self.probe_interval_s = probe_interval_s
        self.rng = rng or random.Random()
        self.reconnects = 0
        self._devices = [OpcuaDevice(asset, profile, self) for asset, profile in devices]
        self._session: OpcuaSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._attempted = asyncio.Event()
        self._down_code = SESSION_LOST
        self._down_message = f"OPC UA session to {url} not established yet"
        self._said_down: str | None = None
        self._ever_up = False
        self._refuses_subscriptions = False
        self._closed_notifications = 0
        self._closed_overflows = 0
        self._current: OpcuaSession | None = None

    # -- the Collector interface ------------------------------------------------------------

    async def connect(self) -> None:
        """Start the supervisor and wait (bounded) for its first attempt. Never raises for a
        server that is down: its devices report ``session_lost`` until it is back."""
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"opcua-supervisor {self.url}")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.connect_wait_s):
                await self._attempted.wait()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        session, self._current, self._session = self._current, None, None
        if session is not None:
            await self._retire(session)

    def devices(self) -> Sequence[OpcuaDevice]:
        return self._devices

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- state for devices and metrics ------------------------------------------------------

    @property
    def live_session(self) -> OpcuaSession | None:
        """The session, when it is up and every point is resolved (and subscribed)."""
        return self._session

    @property
    def notifications(self) -> int:
        """Data-change notifications received over every session so far."""
        current = self._current.notifications if self._current else 0
        return self._closed_notifications + current

    @property
    def dropped(self) -> int:
        """Values the server reported dropped (monitored-item queue overflow)."""
        current = self._current.overflows if self._current else 0
        return self._closed_overflows + current

    def down_result(
        self,
        device: OpcuaDevice,
        points: Sequence[Point],
        collected_ts: datetime,
        error: OpcuaCommError | None = None,
    ) -> Collected:
        """What a poll returns while there is no session (or its Read timed out): at once,
        every point ``bad_comm``."""
        site, asset_no = device.asset.site, device.asset.asset_no
        readings = tuple(
            missing_reading(p, Quality.BAD_COMM, site, asset_no, collected_ts) for p in points
        )
        code, message = (
            (error.error_code, str(error)) if error else (self._down_code, self._down_message)
        )
        return Collected(readings, 0.0, 0, code, message, failed_all=True)

    def session_failed(self, session: OpcuaSession, reason: str) -> None:
        """A device saw the session fail (a Read that could not reach the server)."""
        session.mark_lost(reason)

    # -- the supervisor ---------------------------------------------------------------------

    async def _supervise(self) -> None:
        failures = 0
        while True:
            session = OpcuaSession(self.url, self.security, timeout_s=self.timeout_s)
            self._current = session
            try:
                await self._establish(session)
            except OPCUA_ERRORS as exc:
                await self._retire(session)
                self._went_down(exc.error_code, str(exc))
                failures += 1
                self._attempted.set()
                await asyncio.sleep(self._backoff(failures))
                continue
            except Exception as exc:  # a library surprise must not end collection for good
                await self._retire(session)
                log.warning(
                    "opcua url=%s unexpected error while connecting", self.url, exc_info=True
                )
                self._went_down("error", f"OPC UA session to {self.url}: {exc!r}")
                failures += 1
                self._attempted.set()
                await asyncio.sleep(self._backoff(failures))
                continue
            failures = 0
            self._session = session
            self._came_up()
            self._attempted.set()
            reason = await self._watch(session)
            self._went_down(SESSION_LOST, f"OPC UA session to {self.url} lost: {reason}")
            self._session = None
            for device in self._devices:
                device.binding = None
            session.mark_lost(reason)
            await self._retire(session)
            await asyncio.sleep(self._backoff(1))

    async def _establish(self, session: OpcuaSession) -> None:
        """Connect, resolve every point, subscribe; bindings are installed only at the end."""
        await session.open()
        located: list[tuple[OpcuaDevice, Point, NodeRequest]] = []
        bindings = {device: _Binding() for device in self._devices}
        for device in self._devices:
            binding = bindings[device]
            for point, request in zip(device.profile.points, device.node_requests(), strict=True):
                if request is None:
                    binding.problems[point.name] = Problem(
                        "no_address", "the profile gives no opcua address"
                    )
                else:
                    located.append((device, point, request))
        resolved = await session.resolve([request for _, _, request in located])
        members: list[tuple[OpcuaDevice, Point, MonitorRequest]] = []
        for (device, point, _), result in zip(located, resolved, strict=True):
            binding = bindings[device]
            if result.key is None:
                binding.problems[point.name] = result.problem or Problem("unresolved", "no node")
                continue
            binding.keys[point.name] = result.key
            if not device.defaults.subscribe or self._refuses_subscriptions:
                binding.polled = True
                continue
            assert point.opcua is not None
            defaults = device.defaults
            members.append(
                (
                    device,
                    point,
                    MonitorRequest(
                        result.key,
                        float(defaults.sampling_interval_ms),
                        defaults.queue_size,
                        defaults.deadband_abs,
                        point.opcua.data_type,
                    ),
                )
            )
        for device in self._devices:
            if not device.defaults.subscribe or self._refuses_subscriptions:
                bindings[device].polled = True
        if members:
            await self._subscribe(session, members, bindings)
        await session.probe()  # a first round-trip time, before the first poll
        for device in self._devices:
            device.binding = bindings[device]

    async def _subscribe(
        self,
        session: OpcuaSession,
        members: Sequence[tuple[OpcuaDevice, Point, MonitorRequest]],
        bindings: dict[OpcuaDevice, _Binding],
    ) -> None:
        """One subscription for the session, publishing at the fastest sampling interval;
        each monitored item keeps its own sampling interval, queue size and deadband."""
        publishing_ms = min(m.sampling_ms for _, _, m in members) or 100.0
        try:
            refused = await session.subscribe(publishing_ms, [m for _, _, m in members])
        except OpcuaProtocolError as exc:  # the server does not do subscriptions
            self._fall_back_to_polling(str(exc))
            for device, _, _ in members:
                bindings[device].polled = True
            return
        for (device, point, _), problem in zip(members, refused, strict=True):
            if problem is not None:
                binding = bindings[device]
                binding.keys.pop(point.name, None)
                binding.problems[point.name] = problem
        await session.wait_first_publish(3 * publishing_ms / 1000 + self.timeout_s)

    def _fall_back_to_polling(self, reason: str) -> None:
        if not self._refuses_subscriptions:
            self._refuses_subscriptions = True
            log.warning("opcua url=%s refuses subscriptions, polling instead: %s", self.url, reason)

    async def _watch(self, session: OpcuaSession) -> str:
        """Return why the session ended: loss, Bad subscription status, silence, failed probe."""
        next_probe = time.monotonic() + self.probe_interval_s
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):
                    await session.lost.wait()
            if session.lost.is_set():
                return session.lost_reason
            if session.subscribed:
                silent, limit = session.silence()
                if silent > limit:
                    return f"no notification or keep-alive for {silent:.1f} s (limit {limit:.1f} s)"
            if time.monotonic() >= next_probe:
                try:
                    await session.probe()
                except OPCUA_ERRORS as exc:
                    return str(exc)
                next_probe = time.monotonic() + self.probe_interval_s

    async def _retire(self, session: OpcuaSession) -> None:
        if self._current is session:
            self._current = None
        self._closed_notifications += session.notifications
        self._closed_overflows += session.overflows
        session.notifications = session.overflows = 0
        # shielded: a collector closed mid-way must not leave the client's tasks running
        await asyncio.shield(session.close())

    def _backoff(self, failures: int) -> float:
        return backoff_s(max(failures, 1), self.backoff_min_s, self.backoff_max_s, self.rng)

    def _went_down(self, code: str, message: str) -> None:
        self._down_code, self._down_message = code, message
        if self._said_down != code:
            self._said_down = code
            log.warning("opcua down url=%s code=%s: %s", self.url, code, message)

    def _came_up(self) -> None:
        if self._ever_up:
            self.reconnects += 1
        polled = sum(1 for d in self._devices if d.binding is not None and d.binding.polled)
        if self._said_down is not None or not self._ever_up:
            log.info(
                "opcua up url=%s devices=%d subscribed=%d polled=%d reconnects=%d",
                self.url,
                len(self._devices),
                len(self._devices) - polled,
                polled,
                self.reconnects,
            )
        self._said_down = None
        self._ever_up = True
        self._down_code = SESSION_LOST
        self._down_message = f"OPC UA session to {self.url} lost"
