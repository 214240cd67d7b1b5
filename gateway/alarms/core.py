"""The alarm engine's synchronous core: device messages, timers and commands in, journal
entries out. No I/O and no clock of its own (``now`` is passed in), so the whole engine's
logic is tested without servers and benchmarked without the network.

Per device message: every alarm of the asset is evaluated (a dict lookup per point, a
comparison per alarm); an alarm whose condition did not change and has no timer pending
costs no allocation. Mode rules are re-evaluated for the asset (point-based rules such as a
fire panel in test mode) and, once a minute, for every asset (calendar rules such as the
pool's off-season). Raised alarms feed the flood detector and the incident grouper.
"""

from __future__ import annotations

import difflib
import heapq
import logging
from collections import ChainMap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from facility.heartbeat import Heartbeat, ServiceKind
from facility.payload import DeviceMessage
from facility.types import AssetStatus, PointValue, Quality, Reading
from gateway.alarms.alarmfile import LEDGER_OUT_OF_SERVICE, SuppressionRule
from gateway.alarms.definitions import (
    HIGH_CHECKS,
    PROCESS_CHECKS,
    AlarmSet,
    AlarmSpec,
    Check,
)
from gateway.alarms.evaluate import (
    LimitEvaluator,
    comm_condition,
    is_stale,
    limit_evaluator,
    number,
    process_condition,
    quality_condition,
    rate_per_min,
)
from gateway.alarms.floods import FloodChange, FloodDetector, Grouped, IncidentGrouper
from gateway.alarms.journal import AlarmRecord
from gateway.alarms.state import (
    Ack,
    AlarmCommandError,
    AlarmStatus,
    Change,
    Evaluated,
    Event,
    EventKind,
    Operator,
    RemoveFromService,
    Reset,
    ReturnToService,
    Shelve,
    Suppress,
    Unshelve,
    Unsuppress,
    next_deadline,
    transition,
)
from gateway.alarms.watchdog import (
    Health,
    ServiceKey,
    Verdict,
    Watchdog,
    WatchdogSettings,
    service_of,
    system_alarm_id,
    system_asset_no,
    system_spec,
)
from maintenance.identity.roles import Permission

log = logging.getLogger(__name__)
# how many asset numbers the "held by" log line names before "and N more"
HELD_LOG_NAMES = 5
# the engine is deaf when it has not heard its own heartbeat back for this many heartbeat
# intervals: fewer than the watchdog's silence window (3), so it knows before judging others
OWN_SILENCE_INTERVALS = 2.0

MODE_REFRESH_S = 60.0

CommandOp = Literal[
    "ack", "reset", "shelve", "unshelve", "out_of_service", "return_to_service", "comment"
]
COMMAND_OPS: tuple[str, ...] = (
    "ack",
    "reset",
    "shelve",
    "unshelve",
    "out_of_service",
    "return_to_service",
    "comment",
)


# The permission each operation needs, on the alarm's estate (maintenance/identity/roles.py).
OP_PERMISSION: dict[str, Permission] = {
    "ack": Permission.ALARM_ACK,
    "comment": Permission.ALARM_COMMENT,
    "reset": Permission.ALARM_RESET,
    "shelve": Permission.ALARM_SHELVE,
    "unshelve": Permission.ALARM_SHELVE,
    "out_of_service": Permission.ALARM_SERVICE,
    "return_to_service": Permission.ALARM_SERVICE,
}


def order_definition(spec: AlarmSpec) -> dict[str, Any] | None:
    """The alarm as the profile model (``AlarmDefinition``) describes it, with the asset's
    overrides applied; None for the engine's own checks (quality, service), which have no
    profile counterpart and raise no work order."""
    if spec.check in (Check.QUALITY, Check.SERVICE):
        return None
    return {
        "name": spec.name,
        "point": spec.point,
        "kind": spec.check.value,
        "limit": spec.limit,
        "states": sorted(spec.states, key=float) if spec.states else None,
        "deadband": spec.deadband,
        "priority": spec.priority.value,
        "label": spec.label.model_dump(),
        "text": spec.text.model_dump() if spec.text is not None else None,
        "source": spec.source,
    }


@dataclass(frozen=True, slots=True)
class Command:
    """An operator action on one alarm."""

    op: CommandOp
    alarm_id: str
    user: str
    comment: str = ""
    for_s: float | None = None  # shelve duration
    one_shot: bool = False
    reason: str = ""


@dataclass(slots=True)
class _Slot:
    spec: AlarmSpec
    status: AlarmStatus
    limit: LimitEvaluator | None = None  # HIHI/HI/LO/LOLO: the compiled condition
    high: bool = False
    deadline: datetime | None = None
    last_value: PointValue = None
    prev_value: float | None = None  # rate of change
    prev_ts: datetime | None = None
    extreme: float | None = None  # farthest from the limit on the normal side since clear
    incident: str | None = None
    note: dict[str, Any] | None = None  # system alarms: the watchdog's verdict


@dataclass(slots=True)
class _Asset:
    asset_no: str
    site: str
    device_class: str
    slots: list[_Slot]
    rules: list[tuple[SuppressionRule, frozenset[str]]]
    ledger_status: AssetStatus
    watched: tuple[str, ...]  # points of its process alarms (quality alarm)
    rule_points: frozenset[str]
    last_seen: datetime | None = None
    last_collected: datetime | None = None  # newest poll evaluated
    last_seq: int = 0
    mode_values: dict[str, PointValue] = field(default_factory=dict)
    held_by: str | None = None  # the system alarm whose service explains its silence
    grace_from: datetime | None = None  # its service recovered: staleness counts from here


@dataclass
class CoreStats:
    messages: int = 0
    unknown_assets: int = 0
    evaluations: int = 0
    records: int = 0
    late: int = 0  # polls older than one already evaluated (resends, crossings): skipped
    heartbeats: int = 0
    held_assets: int = 0  # devices whose comm_loss is held by a system alarm right now


class AlarmCore:
    """Every alarm's status, updated by messages, ticks and commands (one thread only)."""

    def __init__(
        self,
        alarm_set: AlarmSet,
        *,
        restored: Mapping[str, AlarmStatus] | None = None,
        stale_after_s: float = 60.0,
        flood_threshold: int = 10,
        flood_window_s: float = 600.0,
        timezone: str = "Asia/Shanghai",
        watchdog: WatchdogSettings | None = None,
        own_service: ServiceKey | None = None,
    ) -> None:
        self.alarm_set = alarm_set
        self.stale_after_s = stale_after_s
        self.deaf_since: datetime | None = None  # the engine hears nothing (see set_listening)
        self._link_up = True
        # the engine's own heartbeat, heard back from the bus: a broker that stops delivering
        # (frozen, overloaded) leaves the link "connected" for its ack timeout (30 s), while
        # every service falls silent after 3 heartbeats (15 s). Not hearing itself for
        # OWN_SILENCE_INTERVALS heartbeats, the engine is the deaf one, not the services.
        self._own_heard_at: datetime | None = None
        self.watchdog = Watchdog(watchdog)
        self.own_service = own_service  # an engine does not judge itself
        self.verdicts: list[Verdict] = []
        self._system_specs: dict[str, AlarmSpec] = {}
        # every alarm, the system alarms included (they appear as services are heard of)
        self.specs: Mapping[str, AlarmSpec] = ChainMap(self._system_specs, alarm_set.specs)  # type: ignore[arg-type]
        self._sites = frozenset(alarm_set.sites)
        self.tz = ZoneInfo(timezone)
        self.flood = FloodDetector(flood_threshold, flood_window_s)
        self.grouper = IncidentGrouper(
            alarm_set.defaults.group_window_s, alarm_set.defaults.group_min_alarms
        )
        self.stats = CoreStats()
        self._slots: dict[str, _Slot] = {}
        self._assets: dict[str, _Asset] = {}
        self._heap: list[tuple[datetime, int, str]] = []
        self._seq = 0
        self._started: datetime | None = None
        self._next_mode_refresh: datetime | None = None
        restored = restored or {}
        for asset_no, specs in alarm_set.by_asset.items():
            asset = alarm_set.assets[asset_no]
            slots = [
                _Slot(
                    spec,
                    restored.get(spec.alarm_id, AlarmStatus()),
                    limit_evaluator(spec),
                    spec.check in HIGH_CHECKS,
                )
                for spec in specs
            ]
            self._slots.update((s.spec.alarm_id, s) for s in slots)
            rules = [
                (rule, frozenset(rule.alarms))
                for rule in alarm_set.suppression
                if rule.selects(asset_no, asset.site, asset.device_class.value)
            ]
            watched = tuple(
                dict.fromkeys(
                    s.point for s in specs if s.check in PROCESS_CHECKS and s.point is not None
                )
            )
            self._assets[asset_no] = _Asset(
                asset_no,
                asset.site,
                asset.device_class.value,
                slots,
                rules,
                asset.status,
                watched,
                frozenset(p for rule, _ in rules for p in rule.when_points),
            )
        # system alarms saved by an earlier run: watched again, silent unless heard from
        self._restored_services: list[ServiceKey] = []
        for alarm_id, restored_status in restored.items():
            key = service_of(alarm_id)
            if key is not None:
                self._system_slot(key, restored_status)
                self._restored_services.append(key)
        forgotten = sorted(set(restored) - set(self._slots))
        if forgotten:
            log.info(
                "alarm states of %d alarms no longer defined are ignored, e.g. alarm_id=%s",
                len(forgotten),
                forgotten[0],
            )
        for slot in self._slots.values():
            self._schedule(slot)

    # -- reading ------------------------------------------------------------------------------

    def status(self, alarm_id: str) -> AlarmStatus:
        return self._slot(alarm_id).status

    def spec(self, alarm_id: str) -> AlarmSpec:
        return self._slot(alarm_id).spec

    def incident_of(self, alarm_id: str) -> str | None:
        slot = self._slots.get(alarm_id)
        return slot.incident if slot else None

    def statuses(self) -> Iterable[tuple[AlarmSpec, AlarmStatus]]:
        return ((s.spec, s.status) for s in self._slots.values())

    def in_flood(self, site: str) -> bool:
        return self.flood.in_flood(site)

    def _slot(self, alarm_id: str) -> _Slot:
        slot = self._slots.get(alarm_id)
        if slot is None:
            close = difflib.get_close_matches(alarm_id, list(self._slots), n=1)
            hint = f"did you mean {', '.join(close)}?" if close else "expected <ASSET_NO>/<alarm>"
            raise AlarmCommandError(f"unknown alarm {alarm_id!r}; {hint}")
        return slot

    # -- input --------------------------------------------------------------------------------

    def on_message(self, message: DeviceMessage, now: datetime) -> list[AlarmRecord]:
        """Evaluate every alarm of the message's asset."""
        self.stats.messages += 1
        asset = self._assets.get(message.asset_no)
        if asset is None:
            self.stats.unknown_assets += 1
            return []
        if (
            asset.last_collected is not None
            and message.collected_ts < asset.last_collected
            and message.seq < asset.last_seq
        ):
            # a poll resent to fill the history (or crossing a newer one on reconnect) is
            # older by both its time and its sequence: the alarms already reflect newer data,
            # evaluating it would re-raise what cleared. Either alone is not enough: a
            # collector's clock can step back, and a collector that lost its state starts
            # its sequence again.
            self.stats.late += 1
            return []
        asset.last_collected = message.collected_ts
        asset.last_seq = message.seq
        seen = min(message.collected_ts, now)
        if asset.last_seen is None or seen > asset.last_seen:
            asset.last_seen = seen
        readings = {r.point: r for r in message.readings}
        records: list[AlarmRecord] = []
        if asset.rule_points:
            for point in asset.rule_points:
                reading = readings.get(point)
                if reading is not None and reading.value is not None:
                    asset.mode_values[point] = reading.value
            self._refresh_modes(asset, now, records)
        comm: bool | None = None
        quality: bool | None = None
        self.stats.evaluations += len(asset.slots)
        good = Quality.GOOD
        for slot in asset.slots:
            spec = slot.spec
            value: PointValue = None
            evaluate = slot.limit
            if evaluate is not None:
                # the hot path: a limit alarm (most of them)
                reading = readings.get(spec.point)  # type: ignore[arg-type]
                if reading is None:
                    continue
                value = reading.value
                raw: bool | None = None
                if reading.quality is good:
                    raw = evaluate(value, slot.status.raw)
                    if raw is not None and not slot.status.active:
                        # how far back the value went since the last clear (tuning replay)
                        extreme = slot.extreme
                        if extreme is None or (
                            value < extreme if slot.high else value > extreme  # type: ignore[operator]
                        ):
                            slot.extreme = value  # type: ignore[assignment]
            elif spec.check is Check.COMM:
                if comm is None:
                    comm = comm_condition(message.readings, message.health)
                raw = comm
            elif spec.check is Check.QUALITY:
                if quality is None:
                    quality = quality_condition(readings, asset.watched)
                raw = quality
            else:
                reading = readings.get(spec.point or "")
                if reading is None:
                    continue
                value = reading.value
                raw = self._process(slot, reading, message.collected_ts)
            status = slot.status
            if raw is None or (raw == status.raw and slot.deadline is None):
                slot.last_value = value if raw is not None else slot.last_value
                continue
            slot.last_value = value
            self._apply(slot, Evaluated(raw, value), now, records)
        return records

    def _process(self, slot: _Slot, reading: Reading, collected_ts: datetime) -> bool | None:
        """State and rate-of-change alarms."""
        spec = slot.spec
        rate = None
        if spec.check is Check.ROC and reading.quality is Quality.GOOD:
            value = number(reading.value)
            if value is not None:
                ts = reading.source_ts or collected_ts
                rate = rate_per_min(slot.prev_value, slot.prev_ts, value, ts)
                slot.prev_value, slot.prev_ts = value, ts
        return process_condition(spec, reading, slot.status.raw, rate)

    def set_listening(self, listening: bool, now: datetime) -> None:
        """The engine's own link to the bus went down or came back."""
        self._link_up = listening
        self._follow_deafness(now)

    def _own_silence_s(self) -> float:
        return OWN_SILENCE_INTERVALS * self.watchdog.settings.default_interval_s

    def _follow_deafness(self, now: datetime) -> None:
        """Deaf: the link is down, or the engine has not heard its own heartbeat back for a
        while (after hearing it once). While deaf, silence is the engine's, not the services'
        or the devices': no system alarm and no comm_loss is raised for it, and when it hears
        again every clock starts again (one cause, one alarm — and the cause is not theirs)."""
        own = self._own_heard_at
        deaf = not self._link_up or (
            own is not None and (now - own).total_seconds() > self._own_silence_s()
        )
        if deaf:
            if self.deaf_since is None:
                self.deaf_since = now
                log.warning(
                    "alarms: deaf since %s (%s): services and devices are not judged until the "
                    "bus is heard again",
                    now.isoformat(timespec="seconds"),
                    "broker link down" if not self._link_up else "own heartbeat not heard back",
                )
            return
        if self.deaf_since is not None:
            log.info("alarms: hearing the bus again; every silence clock starts again")
            self.deaf_since = None
            self.watchdog.rearm(now)
            for asset in self._assets.values():
                asset.grace_from = now

    def tick(self, now: datetime) -> list[AlarmRecord]:
        """Timers: delays, shelve expiry, re-alarm, stale devices, calendar modes, flood end."""
        records: list[AlarmRecord] = []
        if self._started is None:
            self._started = now
            for key in self._restored_services:
                self.watchdog.expect(key, now)
        self._follow_deafness(now)
        deaf = self.deaf_since is not None
        if not deaf:
            self._watch(now, records)
        while self._heap and self._heap[0][0] <= now:
            deadline, _, alarm_id = heapq.heappop(self._heap)
            slot = self._slots[alarm_id]
            if slot.deadline != deadline:
                continue  # superseded
            slot.deadline = None
            self._apply(slot, Evaluated(None, slot.last_value), now, records)
        for asset in self._assets.values():
            if asset.held_by is not None or deaf:
                continue  # its service's one system alarm says it (suppressed by design)
            last = asset.last_seen or self._started
            if asset.grace_from is not None and asset.grace_from > last:
                last = asset.grace_from
            if is_stale(last, now, self.stale_after_s):
                for slot in asset.slots:
                    if slot.spec.check is Check.COMM and slot.status.raw is not True:
                        self._apply(slot, Evaluated(True, None), now, records)
        if self._next_mode_refresh is None or now >= self._next_mode_refresh:
            self._next_mode_refresh = now + timedelta(seconds=MODE_REFRESH_S)
            for asset in self._assets.values():
                self._refresh_modes(asset, now, records)
        for change in self.flood.check(now):
            records.append(self._flood_record(change))
        return records

    def on_heartbeat(self, heartbeat: Heartbeat, now: datetime) -> list[AlarmRecord]:
        """A service's heartbeat (received ``now``): the watchdog's verdicts are applied at
        once (an offline will raises its system alarm without waiting for the next tick)."""
        self.stats.heartbeats += 1
        if heartbeat.key == self.own_service:
            self._own_heard_at = now  # the bus delivers: see _follow_deafness
            self._follow_deafness(now)
            return []
        if (
            heartbeat.kind is ServiceKind.COLLECTOR
            and heartbeat.sites
            and self._sites.isdisjoint(heartbeat.sites)
        ):
            return []  # another engine's sites
        self.watchdog.observe(heartbeat, now)
        records: list[AlarmRecord] = []
        if self.deaf_since is None:
            self._watch(now, records)
        return records

    def forget_service(self, key: ServiceKey, now: datetime) -> list[AlarmRecord]:
        """A service removed on purpose (its retained status cleared): its system alarm
        returns to normal and the devices it held are judged on their own again."""
        self.watchdog.forget(key)
        records: list[AlarmRecord] = []
        slot = self._slots.get(system_alarm_id(key))
        if slot is not None and slot.status.raw:
            self._apply(slot, Evaluated(False, "removed"), now, records)
        self._watch(now, records)
        return records

    def set_asset_status(
        self, asset_no: str, status: AssetStatus, now: datetime
    ) -> list[AlarmRecord]:
        """The ledger moved an asset in or out of service."""
        asset = self._assets.get(asset_no)
        records: list[AlarmRecord] = []
        if asset is None or asset.ledger_status is status:
            return records
        asset.ledger_status = status
        self._refresh_modes(asset, now, records)
        return records

    def command(
        self, command: Command, now: datetime, *, supervisor: bool = False
    ) -> tuple[AlarmStatus, list[AlarmRecord]]:
        """Apply an operator action; AlarmCommandError says why it does not apply.

        ``command.user`` is whoever the caller established (the engine: the signed-in
        person); ``supervisor`` says whether they may take alarms out of service here (the
        engine: their ``alarm.service`` permission on the alarm's estate)."""
        slot = self._slot(command.alarm_id)
        op = Operator(command.user, now, command.comment)
        if not command.user.strip():
            raise AlarmCommandError("a user is required for every operator action")
        if command.op == "comment":
            return slot.status, [self._comment(slot.spec, op)]
        event: Event
        if command.op == "ack":
            event = Ack(op)
        elif command.op == "reset":
            event = Reset(op)
        elif command.op == "shelve":
            until = now + timedelta(seconds=command.for_s) if command.for_s else None
            event = Shelve(op, command.reason, until, command.one_shot)
        elif command.op == "unshelve":
            event = Unshelve(op)
        elif command.op == "out_of_service":
            event = RemoveFromService(op, supervisor)
        elif command.op == "return_to_service":
            event = ReturnToService(op, supervisor)
        else:
            raise AlarmCommandError(
                f"unknown operation {command.op!r}; expected one of: {', '.join(COMMAND_OPS)}"
            )
        records: list[AlarmRecord] = []
        try:
            self._apply(slot, event, now, records)
        except AlarmCommandError as exc:
            raise AlarmCommandError(f"{command.alarm_id} {exc}") from None
        return slot.status, records

    @staticmethod
    def _comment(spec: AlarmSpec, op: Operator) -> AlarmRecord:
        """A note in the journal (what was found, who was called); the state stays."""
        if not op.comment.strip():
            raise AlarmCommandError(f"{spec.alarm_id} a comment needs text (--comment)")
        return AlarmRecord(
            at=op.at,
            alarm_id=spec.alarm_id,
            site=spec.site,
            asset_no=spec.asset_no,
            alarm=spec.name,
            kind=EventKind.COMMENT,
            priority=spec.priority.value,
            user=op.user,
            comment=op.comment,
        )

    # -- internals ----------------------------------------------------------------------------

    def _system_slot(self, key: ServiceKey, status: AlarmStatus | None = None) -> _Slot:
        spec = system_spec(key)
        slot = self._slots.get(spec.alarm_id)
        if slot is None:
            slot = _Slot(spec, status or AlarmStatus())
            self._slots[spec.alarm_id] = slot
            self._system_specs[spec.alarm_id] = spec
            self._schedule(slot)
        return slot

    def _watch(self, now: datetime, records: list[AlarmRecord]) -> None:
        """Apply the watchdog's verdicts: one system alarm per service, and the devices of a
        collector that is not ok held (their comm_loss is not raised: one cause, one alarm)."""
        self.verdicts = self.watchdog.verdicts(now)
        held: dict[str, str] = {}
        for verdict in self.verdicts:
            slot = self._system_slot(verdict.key)
            if verdict.health is Health.STARTING:
                continue  # offline before this engine listened: judged when its wait ends
            if not verdict.ok and verdict.key[0] is ServiceKind.COLLECTOR:
                for asset_no in verdict.asset_nos:
                    held.setdefault(asset_no, system_asset_no(verdict.key))
            raw = not verdict.ok
            if raw == slot.status.raw and slot.deadline is None:
                continue
            slot.last_value = verdict.reason
            slot.note = {
                "health": verdict.health.value,
                "reason": verdict.reason,
                "devices": len(verdict.asset_nos),
            }
            self._apply(
                slot, Evaluated(raw, f"{verdict.health.value}: {verdict.reason}"), now, records
            )
        count = 0
        newly: dict[str, list[str]] = {}  # cause -> the devices it holds from now on
        for asset in self._assets.values():
            cause = held.get(asset.asset_no)
            if cause is not None:
                count += 1
                if asset.held_by != cause:
                    if asset.held_by is None:
                        newly.setdefault(cause, []).append(asset.asset_no)
                    asset.held_by = cause
            elif asset.held_by is not None:
                # released: its data may take a poll to come back; give it stale_after_s
                asset.held_by = None
                asset.grace_from = now
        self.stats.held_assets = count
        for cause, asset_nos in newly.items():
            # one line per cause, not one per device (163 lines each time in the demo)
            shown = ", ".join(asset_nos[:HELD_LOG_NAMES])
            more = (
                f" and {len(asset_nos) - HELD_LOG_NAMES} more"
                if len(asset_nos) > HELD_LOG_NAMES
                else ""
            )
            log.info(
                "comm_loss of %d device(s) held by %s: %s%s", len(asset_nos), cause, shown, more
            )

    def _refresh_modes(self, asset: _Asset, now: datetime, records: list[AlarmRecord]) -> None:
        """Suppress or release alarms of an asset by the mode rules that apply now."""
        applying: list[tuple[str, frozenset[str]]] = []
        if asset.ledger_status is AssetStatus.OUT_OF_SERVICE:
            applying.append((LEDGER_OUT_OF_SERVICE, frozenset()))
        month = now.astimezone(self.tz).month if asset.rules else 0
        for rule, names in asset.rules:
            if rule.months and month not in rule.months:
                continue
            if rule.when_points and not any(
                _matches(asset.mode_values.get(p), wanted) for p, wanted in rule.when_points.items()
            ):
                continue
            applying.append((rule.name, names))
        for slot in asset.slots:
            wanted_rule = next(
                (name for name, names in applying if not names or slot.spec.name in names), None
            )
            if wanted_rule == slot.status.suppressed_by:
                continue
            event: Event = Suppress(wanted_rule) if wanted_rule else Unsuppress()
            self._apply(slot, event, now, records)

    def _apply(self, slot: _Slot, event: Event, now: datetime, records: list[AlarmRecord]) -> None:
        status, changes = transition(slot.status, event, now, slot.spec.rules)
        if status is slot.status:
            return
        slot.status = status
        for change in changes:
            records.extend(self._records(slot, change))
        self._schedule(slot)

    def _schedule(self, slot: _Slot) -> None:
        deadline = next_deadline(slot.status, slot.spec.rules)
        if deadline != slot.deadline:
            slot.deadline = deadline
            if deadline is not None:
                self._seq += 1
                heapq.heappush(self._heap, (deadline, self._seq, slot.spec.alarm_id))

    def _records(self, slot: _Slot, change: Change) -> list[AlarmRecord]:
        """The journal entry of a change, preceded by a flood's end and followed by what the
        raise caused (an incident announcement, a flood start)."""
        spec = slot.spec
        detail: dict[str, Any] = {}
        before: list[AlarmRecord] = []
        after: list[AlarmRecord] = []
        if change.kind is EventKind.RAISE:
            detail["check"] = spec.check.value
            definition = order_definition(spec)
            if definition is not None:
                # what a corrective order needs, as compiled (alarms.yaml overrides included):
                # the scheduler reads it from here instead of rebuilding profile defaults
                detail["definition"] = definition
            if slot.note is not None:
                detail.update(slot.note)
            if spec.limit is not None:
                detail["limit"] = spec.limit
            if slot.extreme is not None:
                detail["extreme"] = slot.extreme
            grouped = self.grouper.on_raise(spec.site, spec.alarm_id, change.at)
            incident = grouped.incident
            slot.incident = incident.incident_id
            if len(incident.members) > 1:
                detail["incident"] = incident.incident_id
                detail["first_out"] = incident.first_out
            if grouped.announce:
                after.append(self._incident_record(spec, incident.first_out, change.at, grouped))
            for flood in self.flood.add(spec.site, change.at):
                (after if flood.started else before).append(self._flood_record(flood))
            if self.flood.in_flood(spec.site):
                detail["flood"] = True
        elif change.kind is EventKind.CLEAR:
            slot.extreme = number(change.value)
            slot.incident = None
        elif change.kind is EventKind.WOULD_RAISE:
            detail["hidden_by"] = slot.status.state.value
            if slot.status.suppressed_by:
                detail["suppressed_by"] = slot.status.suppressed_by
        elif change.kind is EventKind.SHELVE and slot.status.shelve is not None:
            detail["until"] = slot.status.shelve.until.isoformat()
            detail["one_shot"] = slot.status.shelve.one_shot
            detail["reason"] = slot.status.shelve.reason
        record = AlarmRecord(
            at=change.at,
            alarm_id=spec.alarm_id,
            site=spec.site,
            asset_no=spec.asset_no,
            alarm=spec.name,
            kind=change.kind,
            from_state=change.from_state,
            to_state=change.to_state,
            priority=spec.priority.value,
            value=change.value,
            user=change.user,
            comment=change.comment,
            detail=detail,
            annunciate=change.annunciate,
        )
        self.stats.records += 1 + len(before) + len(after)
        return [*before, record, *after]

    def _incident_record(
        self, spec: AlarmSpec, first_out: str, at: datetime, grouped: Grouped
    ) -> AlarmRecord:
        incident = grouped.incident
        first = self._slots[first_out].spec if first_out in self._slots else spec
        return AlarmRecord(
            at=at,
            alarm_id=first.alarm_id,
            site=spec.site,
            asset_no=first.asset_no,
            alarm=first.name,
            kind=EventKind.INCIDENT,
            priority=first.priority.value,
            detail={
                "incident": incident.incident_id,
                "first_out": incident.first_out,
                "members": list(incident.members),
                "count": len(incident.members),
            },
        )

    def _flood_record(self, change: FloodChange) -> AlarmRecord:
        return AlarmRecord(
            at=change.at,
            alarm_id=f"{change.position}/flood",
            site=change.position,
            asset_no=None,
            alarm="flood",
            kind=EventKind.FLOOD_START if change.started else EventKind.FLOOD_END,
            detail={"count": change.count, "window_s": self.flood.window.total_seconds()},
        )


def _matches(value: PointValue, wanted: tuple[Any, ...]) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value in wanted
