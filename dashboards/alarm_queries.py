"""The dashboard's alarm queries: the engine's states for every page, the console, the
header's counter and the journal, and the operator's commands to the engine.

A mixin of ``dashboards.queries.Queries`` (which gives it the settings, the ledger and the
profiles): the alarm store, its read cache and the journal's raise notes live here, so the
query layer's alarm room is one file. Every read takes the signed-in ``Principal`` and
returns only what is in their estates; nothing here computes an alarm state (the engine
does, ``gateway.alarms``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dashboards.console import (
    COMMENT_MAX,
    MAX_BATCH,
    OP_PERMISSIONS,
    RaiseNote,
    activation_raise,
    console_row,
    incident_membership,
    incident_rows,
    journal_row,
    matches,
    priority_counts,
    sort_rows,
)
from dashboards.i18n import t
from dashboards.tiles import highest_priority
from device_profiles.models import DeviceProfile
from facility.config import Settings
from facility.errors import ConfigError, FacilityError
from facility.mqtt import BrokerSettings
from facility.types import Asset, priority_rank
from gateway.alarms.state import HIDDEN, AlarmState, EventKind
from gateway.alarms.store import AlarmStore, CurrentAlarm
from maintenance.identity.roles import Permission, Principal

log = logging.getLogger(__name__)

RAISE_CHUNK = 200  # alarm ids per journal query for their raises (a bound on the IN list)
ALARM_TTL_S = 0.8  # alarm states are re-read at most this often (shared by every tick)
# ...and then only when the store's change marker moved; a full read at least this often
# anyway, so a change the marker could miss (a clock stepped back) shows within a minute
ALARM_FULL_READ_S = 60.0
CONSOLE_STATES = tuple(s for s in AlarmState if s is not AlarmState.NORMAL and s not in HIDDEN)


class AlarmQueries(ABC):
    """Alarm reads and commands for the pages (a mixin of ``Queries``)."""

    settings: Settings
    broker: BrokerSettings
    ack_timeout_s: float
    tz: ZoneInfo
    clock: Callable[[], datetime]
    _lock: threading.Lock

    def _init_alarms(self) -> None:
        self._alarms: AlarmStore | None = None
        self._alarm_error_logged = False
        self._alarm_cache_lock = threading.Lock()
        self._alarm_cache: tuple[float, list[CurrentAlarm]] | None = None
        self._alarm_marker: tuple[tuple[Any, ...], float] | None = None  # (marker, read at)
        self._console_cache: tuple[Any, list[CurrentAlarm], dict[str, Any]] | None = None
        self._raise_lock = threading.Lock()
        # (alarm id, active since) → its raise's note (None: no raise entry found)
        self._raise_notes: dict[tuple[str, datetime], RaiseNote | None] = {}

    @abstractmethod
    def profiles(self) -> dict[str, DeviceProfile]:
        """The device profiles by id."""

    @abstractmethod
    def _safe_assets(self) -> list[Asset]:
        """The ledger's assets; empty when the ledger cannot be read."""

    def _alarm_store(self) -> AlarmStore:
        with self._lock:
            if self._alarms is None:
                self._alarms = AlarmStore(self.settings.database_url)
            return self._alarms

    def current_alarms(self) -> list[CurrentAlarm]:
        """Every alarm not normal (annunciated, shelved, suppressed, out of service), read at
        most once per ALARM_TTL_S for every page, browser and the header's counter: the
        overview, the console and the counter of several screens each tick share one read
        (500 alarms cost ~45 ms to read; the engine's states change far less often). Past
        the TTL the store's change marker is read first (well under a millisecond) and the
        states only when it moved."""
        with self._alarm_cache_lock:
            cached = self._alarm_cache
            now = time.monotonic()
            if cached is not None and now - cached[0] < ALARM_TTL_S:
                return cached[1]
            store = self._alarm_store()
            marker = store.state_marker()
            seen = self._alarm_marker
            if (
                cached is not None
                and seen is not None
                and seen[0] == marker
                and now - seen[1] < ALARM_FULL_READ_S
            ):
                self._alarm_cache = (now, cached[1])
                return cached[1]
            alarms = store.current(states=(*CONSOLE_STATES, *HIDDEN))
            self._alarm_cache = (now, alarms)
            self._alarm_marker = (marker, now)
            return alarms

    def standing_alarms(self) -> list[CurrentAlarm]:
        """Every annunciated alarm (unack, acked, returned unack, latched) of every estate; an
        empty list, logged once, when the alarm store cannot be read (tiles still show)."""
        try:
            alarms = self.current_alarms()
        except FacilityError as exc:
            if not self._alarm_error_logged:
                log.warning("alarm colours unavailable: %s", exc)
                self._alarm_error_logged = True
            return []
        if self._alarm_error_logged:
            log.info("alarm colours available again")
        self._alarm_error_logged = False
        return [a for a in alarms if a.state in CONSOLE_STATES]

    def asset_alarm_priorities(self, alarms: list[CurrentAlarm] | None = None) -> dict[str, str]:
        """The most urgent active, annunciated alarm of each asset (the engine's states)."""
        by_asset: dict[str, list[str]] = {}
        for alarm in self.standing_alarms() if alarms is None else alarms:
            if alarm.status.active:
                by_asset.setdefault(alarm.asset_no, []).append(alarm.priority)
        return {a: p for a, ps in by_asset.items() if (p := highest_priority(ps)) is not None}

    def console_alarms(self, principal: Principal, site: str | None = None) -> list[CurrentAlarm]:
        """Alarms an operator sees (unacknowledged, acknowledged, returned, latched) in the
        person's estates, most urgent first."""
        rows = [
            r
            for r in self._alarm_store().current(site=site, states=CONSOLE_STATES)
            if principal.sees(r.site)
        ]
        state_order = {AlarmState.UNACK: 0, AlarmState.RTN_UNACK: 1, AlarmState.LATCHED: 2}
        return sorted(
            rows,
            key=lambda r: (
                priority_rank(r.priority),
                state_order.get(r.state, 3),
                -(r.status.since or datetime.min.replace(tzinfo=UTC)).timestamp(),
                r.alarm_id,
            ),
        )

    def console_snapshot(self, lang: str, principal: Principal) -> dict[str, Any]:
        """The console's store: every non-normal alarm of the person's estates as a row
        (``dashboards.console.console_row``), most urgent first, and the counts by priority.
        Shelved and out-of-service alarms are rows too (the shelved view), never dropped."""
        every = self.current_alarms()
        key = (lang, principal.all_sites, tuple(sorted(principal.sites)))
        cached = self._console_cache
        if cached is not None and cached[0] == key and cached[1] is every:
            return cached[2]  # the same read of the store: the same rows
        alarms = [a for a in every if principal.sees(a.site)]
        assets = {a.asset_no: a for a in self._safe_assets()}
        profiles = self.profiles()
        notes = self.raise_notes(alarms)
        membership = incident_membership(notes)
        rows = [
            console_row(
                a, assets.get(a.asset_no), profiles, lang, self.tz,
                membership.get(a.alarm_id), a.alarm_id in notes and notes[a.alarm_id].flood,
            )
            for a in alarms
        ]  # fmt: skip
        snapshot: dict[str, Any] = {
            "rows": sort_rows(rows),
            "incidents": incident_rows(rows, lang),
            "counts": priority_counts(alarms),
            "labels": {"expand": t("incident_expand", lang),
                       "collapse": t("incident_collapse", lang)},
        }  # fmt: skip
        text = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), default=str)
        # what the page compares to say "nothing changed" without sending the rows again
        snapshot["digest"] = hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
        self._console_cache = (key, every, snapshot)
        return snapshot

    def raise_notes(self, alarms: Sequence[CurrentAlarm]) -> dict[str, RaiseNote]:
        """Of each alarm, the journal's raise entry of its current activation, reduced to
        what the console needs (incident, first-out, flood). Read only for activations not
        seen before — an entry never changes — in chunks of ids; none for an alarm whose
        raise is not in the journal (raised while shelved, or the journal was pruned)."""
        activations = {
            a.alarm_id: a.status.active_since for a in alarms if a.status.active_since is not None
        }
        with self._raise_lock:
            known = {
                k: v for k, v in self._raise_notes.items() if activations.get(k[0]) == k[1]
            }  # activations gone or replaced are forgotten
            unknown = sorted(a for a, since in activations.items() if (a, since) not in known)
            if unknown:
                store = self._alarm_store()
                slack = timedelta(seconds=1)
                for lo in range(0, len(unknown), RAISE_CHUNK):
                    chunk = unknown[lo : lo + RAISE_CHUNK]
                    moments = [activations[a] for a in chunk]
                    records = store.journal(
                        alarm_ids=chunk, events=(EventKind.RAISE,),
                        since=min(moments) - slack, until=max(moments) + slack,
                    )  # fmt: skip
                    found = activation_raise(records, {a: activations[a] for a in chunk})
                    for alarm_id in chunk:
                        known[(alarm_id, activations[alarm_id])] = found.get(alarm_id)
            self._raise_notes = known
        return {k[0]: note for k, note in known.items() if note is not None}

    def alarm_counter(self, principal: Principal) -> dict[str, Any]:
        """The header's counter: standing and unacknowledged alarms by priority, and the ids
        of the unacknowledged critical ones (the browser sounds a tone for a new one)."""
        alarms = [a for a in self.standing_alarms() if principal.sees(a.site)]
        critical = sorted(
            a.alarm_id
            for a in alarms
            if a.priority == "critical" and a.state in (AlarmState.UNACK, AlarmState.RTN_UNACK)
        )
        return {"counts": priority_counts(alarms), "critical": critical}

    def alarm_commands(
        self,
        op: str,
        alarm_ids: list[str],
        principal: Principal,
        token: str,
        *,
        comment: str = "",
        for_s: float | None = None,
        reason: str = "",
    ) -> list[tuple[str, str | None]]:
        """Send ``op`` for each alarm as ``principal`` (with their session ``token``) to the
        engine, all at once; returns ``(alarm_id, None)`` for each done and
        ``(alarm_id, why)`` for each refused. PermissionDenied or ConfigError (naming what
        was expected) before anything is sent: the person may not, no alarm, too many,
        a critical alarm acknowledged without a comment, a shelve without a reason."""
        from gateway.alarms.client import send_command, site_of
        from gateway.alarms.core import COMMAND_OPS, Command

        needed = OP_PERMISSIONS.get(op)
        if needed is None or op not in COMMAND_OPS:
            raise ConfigError(
                f"alarm action {op[:40]!r}: expected one of {', '.join(OP_PERMISSIONS)}"
            )
        if not alarm_ids:
            raise ConfigError("no alarm selected")
        if len(alarm_ids) > MAX_BATCH:
            raise ConfigError(f"{len(alarm_ids)} alarms: at most {MAX_BATCH} in one action")
        comment = comment.strip()
        if len(comment) > COMMENT_MAX:
            raise ConfigError(f"comment: at most {COMMENT_MAX} characters (got {len(comment)})")
        for alarm_id in alarm_ids:
            principal.require(needed, site_of(alarm_id))
        if op == "ack" and not comment:
            saved = {a.alarm_id: a for a in self._alarm_store().current(states=CONSOLE_STATES)}
            critical = [i for i in alarm_ids if i in saved and saved[i].priority == "critical"]
            if critical:
                raise ConfigError(
                    f"comment: required to acknowledge a critical alarm ({', '.join(critical[:5])})"
                )
        if op in ("shelve", "out_of_service") and not (reason.strip() or comment):
            raise ConfigError(f"reason: required to {op.replace('_', ' ')}")
        log.info("alarm %s alarm_ids=%s user=%s", op, ",".join(alarm_ids[:20]), principal.name)

        async def one(alarm_id: str) -> tuple[str, str | None]:
            command = Command(
                op=op,  # type: ignore[arg-type]  # checked against COMMAND_OPS above
                alarm_id=alarm_id,
                user=principal.name,
                comment=comment,
                for_s=for_s,
                reason=reason.strip(),
            )
            try:
                await send_command(self.broker, command, token=token, timeout_s=self.ack_timeout_s)
            except FacilityError as exc:
                return alarm_id, str(exc)
            return alarm_id, None

        async def every() -> list[tuple[str, str | None]]:
            return list(await asyncio.gather(*(one(i) for i in alarm_ids)))

        try:
            return asyncio.run(every())
        finally:
            with self._alarm_cache_lock:  # show the engine's answer at the next tick
                self._alarm_cache = None

    def acknowledge(
        self, alarm_id: str, principal: Principal, token: str, comment: str = ""
    ) -> dict[str, Any]:
        """Acknowledge as ``principal``: the command names them and carries their session
        ``token`` (the engine resolves it and checks role and estate itself). Returns the
        engine's answer; PermissionDenied before anything is sent if the person may not."""
        from gateway.alarms.client import send_command, site_of
        from gateway.alarms.core import Command

        principal.require(Permission.ALARM_ACK, site_of(alarm_id))
        if len(comment) > 500:
            raise ConfigError(f"comment: at most 500 characters (got {len(comment)})")
        command = Command(op="ack", alarm_id=alarm_id, user=principal.name, comment=comment.strip())
        log.info("alarm ack alarm_id=%s user=%s", alarm_id, principal.name)
        return asyncio.run(
            send_command(self.broker, command, token=token, timeout_s=self.ack_timeout_s)
        )

    def journal_rows(
        self, lang: str, principal: Principal, search: str = "", days: int = 7, limit: int = 2000
    ) -> list[dict[str, str]]:
        """The alarm journal of the last ``days`` in the person's estates, newest first,
        entries matching every word of ``search`` (at most ``limit``)."""
        since = self.clock() - timedelta(days=days)
        assets = {a.asset_no: a for a in self._safe_assets()}
        profiles = self.profiles()
        rows: list[dict[str, str]] = []
        records = self._alarm_store().journal(since=since)
        for record in reversed(records):
            if not principal.sees(record.site):
                continue
            asset = assets.get(record.asset_no or "")
            row = journal_row(record, asset, profiles, lang, self.tz)
            if search and not matches(row, search):
                continue
            rows.append(row)
            if len(rows) >= limit:
                break
        return rows
