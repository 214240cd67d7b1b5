"""Corrective work orders from raised alarms.

Each pass reads the alarm journal's ``raise`` entries after a cursor and turns those of
priority ``critical`` or ``high`` (configurable) into the asset's corrective order for that
alarm — one open order per asset and condition; a repeat attaches to it, with proof of fix
watching the alarm's point.

- **The alarm as the engine compiled it.** A raise carries its definition with the asset's
  ``alarms.yaml`` overrides applied (priority, limit, alarms added there); the order is made
  from that, so proof of fix watches the band that actually raised. Journal entries written
  before raises carried it fall back to the profile's default.
- **One alarm occurrence, one order.** An alarm that triggers a PM plan of the asset (a
  ``condition`` trigger, e.g. turbidity → investigate) is answered by that plan's order; no
  corrective order is raised beside it.
- **Exactly once, on any number of schedulers.** The cursor lives in SQL and moves in the
  same transaction as the order a raise creates or attaches to; each handled raise is
  recorded under its journal id (a primary key), so a second scheduler — same var dir or
  another host — finds it handled. On the very first run the cursor starts at the end of the
  journal: alarms raised before the scheduler ever ran are not turned into orders.

The journal is the alarm engine's (gateway): what this module needs of it is the small
``RaiseJournal`` protocol, implemented over the alarm store by
``gateway.telemetry.StoreRaises`` — maintenance never imports gateway (docs/decisions/004).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping

from pydantic import ValidationError

from device_profiles.models import AlarmDefinition, DeviceProfile, Priority
from facility.errors import ConfigError
from maintenance.telemetry import AlarmRaise, RaiseJournal
from maintenance.wo_store import WorkOrderStore

log = logging.getLogger(__name__)

CURSOR = "corrective-orders"


class AlarmOrders:
    def __init__(
        self,
        alarms: RaiseJournal,
        orders: WorkOrderStore,
        profiles: Mapping[str, DeviceProfile],
        asset_profiles: Callable[[], Mapping[str, str]],
        *,
        covered: Callable[[], Collection[tuple[str, str]]] = frozenset,
        min_priority: Priority = Priority.HIGH,
        batch: int = 500,
        cursor: str = CURSOR,
    ) -> None:
        self.alarms = alarms
        self.orders = orders
        self.profiles = profiles
        self.asset_profiles = asset_profiles
        self.covered = covered
        self.min_priority = min_priority
        self.batch = batch
        self.cursor_name = cursor
        self.raised = 0
        self.duplicates = 0  # raises another scheduler handled first
        self._bad_definitions: set[str] = set()

    def _cursor(self) -> int:
        after = self.orders.cursor(self.cursor_name)
        if after is None:
            after = self.alarms.last_raise_id()
            self.orders.set_cursor(self.cursor_name, after)
        return after

    def definition(self, record: AlarmRaise) -> AlarmDefinition | None:
        """The alarm as it was when it raised (the engine's compiled definition), else the
        profile's default for journal entries that do not carry one."""
        if record.definition is not None:
            body = {k: v for k, v in record.definition.items() if k != "source"}
            try:
                return AlarmDefinition.model_validate(body)
            except ValidationError as exc:
                key = f"{record.asset_no}/{record.alarm}"
                if key not in self._bad_definitions:  # said once per alarm
                    self._bad_definitions.add(key)
                    log.warning(
                        "alarm %s: its raise carries a definition the profile model refuses "
                        "(%d problems); using the profile's default",
                        key,
                        exc.error_count(),
                    )
        assert record.asset_no is not None
        profile = self.profiles.get(self.asset_profiles().get(record.asset_no, ""))
        if profile is None:
            return None
        return next((a for a in profile.alarms if a.name == record.alarm), None)

    def tick(self) -> int:
        """Turn new raises into corrective orders; returns how many were raised/attached."""
        cursor = self._cursor()
        done = 0
        while True:
            records = self.alarms.raises(after_id=cursor, limit=self.batch)
            covered = set(self.covered()) if records else set()
            skipped_to = None
            for record in records:
                cursor = record.id
                if record.asset_no is None:
                    skipped_to = record.id
                    continue
                definition = self.definition(record)
                if (
                    definition is None
                    or not definition.priority.at_least(self.min_priority)
                    or (record.asset_no, record.alarm) in covered
                ):
                    skipped_to = record.id
                    continue
                try:
                    result = self.orders.raise_from_alarm(
                        record.asset_no,
                        definition,
                        at=record.at,
                        value=record.value,
                        raise_id=record.id,
                        cursor=self.cursor_name,
                    )
                except ConfigError as exc:  # e.g. the asset was retired meanwhile
                    log.warning("alarm raise %s: no corrective order: %s", record.id, exc)
                    skipped_to = record.id
                    continue
                if result.duplicate:
                    self.duplicates += 1
                else:
                    done += 1
            if skipped_to is not None:
                self.orders.set_cursor(self.cursor_name, skipped_to)
            if len(records) < self.batch:
                break
        self.raised += done
        return done
