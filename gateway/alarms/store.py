"""The alarm journal and current alarm states in the SQL database (SQLite or PostgreSQL).

``AlarmStore(url)`` upgrades the database on open (idempotent) and then:

- ``write(records, currents, actions)``: journal entries, the current states they produced
  and the audit rows of the operator actions that caused them, in one transaction (the
  journal and the audit trail are append-only: the database refuses UPDATE and DELETE);
- ``load_statuses()``: every alarm's last status, to rebuild the engine after a restart;
- ``current()`` / ``active_alarms()``: the console list, and active alarms for PM condition
  triggers; ``state_marker()``: a cheap value that changes whenever the states do;
- ``journal()`` / ``iter_journal()`` / ``export_csv()``: history, filtered, oldest first.

SQLAlchemy stays in ``maintenance`` (``maintenance.alarm_schema`` builds the queries);
nothing here returns a row object.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from gateway.alarms.journal import AlarmRecord, write_csv
from gateway.alarms.state import (
    AlarmState,
    AlarmStatus,
    EventKind,
    status_from_json,
    status_to_json,
)
from maintenance.alarm_schema import (
    AlarmJournalRow,
    AlarmStateRow,
    journal_query,
    state_marker_query,
    state_query,
)
from maintenance.db import Database, DatabaseUser
from maintenance.identity.audit import audit_row
from maintenance.identity.roles import Principal

EXPORT_BATCH = 5000
ID_CHUNK = 500


@dataclass(frozen=True)
class CurrentAlarm:
    """One alarm's current status, with what identifies it."""

    alarm_id: str
    site: str
    asset_no: str
    alarm: str
    priority: str
    status: AlarmStatus
    updated_at: datetime | None = None
    journal_id: int | None = None

    @property
    def state(self) -> AlarmState:
        return self.status.state


@dataclass(frozen=True, slots=True)
class OperatorAction:
    """An operator action for the audit trail (who, from where, what), written in the same
    transaction as the journal entries it caused."""

    actor: Principal
    action: str  # alarm_ack, alarm_shelve, ...
    alarm_id: str
    at: datetime
    detail: Mapping[str, Any]


def _utc(moment: datetime | None) -> datetime | None:
    # SQLite hands timezone-aware columns back naive; they were written in UTC.
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _record(row: AlarmJournalRow) -> AlarmRecord:
    at = _utc(row.at)
    assert at is not None
    return AlarmRecord(
        at=at,
        alarm_id=row.alarm_id,
        site=row.site,
        asset_no=row.asset_no,
        alarm=row.alarm,
        kind=EventKind(row.event),
        from_state=AlarmState(row.from_state) if row.from_state else None,
        to_state=AlarmState(row.to_state) if row.to_state else None,
        priority=row.priority,
        value=row.value,
        user=row.actor,
        comment=row.comment,
        detail=dict(row.detail or {}),
        id=row.id,
    )


def _current(row: AlarmStateRow) -> CurrentAlarm:
    return CurrentAlarm(
        alarm_id=row.alarm_id,
        site=row.site,
        asset_no=row.asset_no,
        alarm=row.alarm,
        priority=row.priority,
        status=status_from_json(dict(row.status)),
        updated_at=_utc(row.updated_at),
        journal_id=row.journal_id,
    )


def _value(value: Any) -> Any:
    # the journal keeps scalars only (a value that is not JSON-able is kept as text)
    return value if value is None or isinstance(value, bool | int | float | str) else str(value)


class AlarmStore(DatabaseUser):
    """The alarm tables of the database at ``url``."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self._db = Database.open(url, migrate=migrate)

    # -- writing ------------------------------------------------------------------------------

    def write(
        self,
        records: Sequence[AlarmRecord],
        currents: Sequence[CurrentAlarm] = (),
        actions: Sequence[OperatorAction] = (),
    ) -> list[AlarmRecord]:
        """Append journal entries, save current states and record operator actions in the
        audit trail, all or nothing; the entries are returned with their journal ids."""
        with self._db.transaction(write=True) as tx:
            rows = [
                AlarmJournalRow(
                    at=r.at,
                    alarm_id=r.alarm_id,
                    site=r.site,
                    asset_no=r.asset_no,
                    alarm=r.alarm,
                    event=r.kind.value,
                    from_state=r.from_state.value if r.from_state else None,
                    to_state=r.to_state.value if r.to_state else None,
                    priority=r.priority,
                    value=_value(r.value),
                    actor=r.user,
                    comment=r.comment[:1000],
                    detail=dict(r.detail),
                )
                for r in records
            ]
            tx.add(*rows)
            tx.add(*(audit_row(a.actor, a.action, a.alarm_id, a.detail, at=a.at) for a in actions))
            tx.flush()
            last_id = {r.alarm_id: row.id for r, row in zip(records, rows, strict=True)}
            existing: dict[str, AlarmStateRow] = {}
            ids = [c.alarm_id for c in currents]
            for i in range(0, len(ids), ID_CHUNK):  # bound the number of SQL parameters
                query = state_query(alarm_ids=ids[i : i + ID_CHUNK])
                existing.update((row.alarm_id, row) for row in tx.execute(query).scalars())
            # stamped once the write lock is held (the query above took it on SQLite), so
            # writers' stamps grow in commit order: state_marker relies on it
            now = datetime.now(UTC)
            for current in currents:
                row = existing.get(current.alarm_id)
                if row is None:
                    row = AlarmStateRow(alarm_id=current.alarm_id)
                    tx.add(row)
                row.site = current.site
                row.asset_no = current.asset_no
                row.alarm = current.alarm
                row.priority = current.priority
                row.state = current.status.state.value
                row.active = current.status.active
                row.since = current.status.since
                row.updated_at = now
                row.journal_id = last_id.get(current.alarm_id, row.journal_id)
                row.status = status_to_json(current.status)
        return [r.with_id(row.id) for r, row in zip(records, rows, strict=True)]

    # -- reading ------------------------------------------------------------------------------

    def load_statuses(self) -> dict[str, AlarmStatus]:
        """Every alarm's saved status, by alarm id (what a restarted engine starts from)."""
        return {c.alarm_id: c.status for c in self.current()}

    def current(
        self,
        *,
        site: str | None = None,
        states: Sequence[AlarmState | str] = (),
        asset_no: str | None = None,
        active: bool | None = None,
    ) -> list[CurrentAlarm]:
        """Saved current states (alarms never raised have none: they are normal)."""
        query = state_query(
            site=site, states=[str(s) for s in states], asset_no=asset_no, active=active
        )
        with self._db.transaction() as tx:
            return [_current(row) for row in tx.execute(query).scalars()]

    def state_marker(self) -> tuple[Any, ...]:
        """A cheap value that changes whenever the saved states do (row count, newest update,
        newest journal id): a reader re-reads :meth:`current` only when it differs."""
        with self._db.transaction() as tx:
            count, newest, entry = tx.execute(state_marker_query()).one()
        return (count, _utc(newest), entry)

    def active_alarms(
        self, *, site: str | None = None, asset_no: str | None = None
    ) -> list[CurrentAlarm]:
        """Alarms whose condition is active now, whatever their state (shelved ones too)."""
        return self.current(site=site, asset_no=asset_no, active=True)

    def journal(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        site: str | None = None,
        alarm_id: str | None = None,
        asset_no: str | None = None,
        events: Sequence[EventKind | str] = (),
        after_id: int | None = None,
        limit: int | None = None,
        alarm_ids: Sequence[str] = (),
    ) -> list[AlarmRecord]:
        """Journal entries, oldest first (``alarm_ids``: of these alarms only)."""
        query = journal_query(
            since=since,
            until=until,
            site=site,
            alarm_id=alarm_id,
            asset_no=asset_no,
            events=[str(e) for e in events],
            after_id=after_id,
            limit=limit,
            alarm_ids=alarm_ids,
        )
        with self._db.transaction() as tx:
            return [_record(row) for row in tx.execute(query).scalars()]

    def iter_journal(self, batch: int = EXPORT_BATCH, **filters: Any) -> Iterator[AlarmRecord]:
        """Like :meth:`journal`, read in batches (exports of any size)."""
        after: int | None = None
        while True:
            chunk = self.journal(after_id=after, limit=batch, **filters)
            yield from chunk
            if len(chunk) < batch:
                return
            after = chunk[-1].id

    def export_csv(self, stream: IO[str], **filters: Any) -> int:
        """The journal as CSV; returns the number of entries written."""
        return write_csv(self.iter_journal(**filters), stream)
