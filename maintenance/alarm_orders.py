"""Corrective work orders from raised alarms.

Each pass reads the alarm journal's ``raise`` entries after a cursor and turns those of
priority ``critical`` or ``high`` (configurable) into the asset's corrective order for that
alarm — one open order per asset and condition; a repeat attaches to it, with proof of fix
watching the alarm's point. The cursor is a small file so a restart neither misses raises
nor attaches the same raise twice. On the very first run the cursor starts at the end of the
journal: alarms raised before the scheduler ever ran are not turned into orders.

The journal is the alarm engine's (gateway): what this module needs of it is the small
``RaiseJournal`` protocol below, implemented over the alarm store by
``gateway.telemetry.StoreRaises`` — maintenance never imports gateway (docs/decisions/004).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from device_profiles.models import AlarmDefinition, DeviceProfile, Priority
from facility.errors import FacilityError
from maintenance.telemetry import RaiseJournal
from maintenance.wo_store import WorkOrderStore

log = logging.getLogger(__name__)


class AlarmOrders:
    def __init__(
        self,
        alarms: RaiseJournal,
        orders: WorkOrderStore,
        profiles: Mapping[str, DeviceProfile],
        asset_profiles: Callable[[], Mapping[str, str]],
        cursor_path: Path,
        *,
        min_priority: Priority = Priority.HIGH,
        batch: int = 500,
    ) -> None:
        self.alarms = alarms
        self.orders = orders
        self.profiles = profiles
        self.asset_profiles = asset_profiles
        self.cursor_path = cursor_path
        self.min_priority = min_priority
        self.batch = batch
        self.raised = 0

    def _cursor(self) -> int:
        try:
            return int(json.loads(self.cursor_path.read_text())["after_id"])
        except FileNotFoundError:
            last = self.alarms.last_raise_id()
            self._save(last)
            return last
        except (ValueError, KeyError, TypeError) as exc:
            raise FacilityError(f"{self.cursor_path}: unreadable alarm cursor ({exc})") from None

    def _save(self, after_id: int) -> None:
        self.cursor_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.cursor_path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"after_id": after_id}))
        os.replace(temporary, self.cursor_path)

    def _definition(self, asset_no: str, alarm: str) -> AlarmDefinition | None:
        profile = self.profiles.get(self.asset_profiles().get(asset_no, ""))
        if profile is None:
            return None
        return next((a for a in profile.alarms if a.name == alarm), None)

    def tick(self) -> int:
        """Turn new raises into corrective orders; returns how many were raised/attached."""
        cursor = self._cursor()
        done = 0
        while True:
            records = self.alarms.raises(after_id=cursor, limit=self.batch)
            for record in records:
                cursor = record.id
                if record.asset_no is None:
                    continue
                definition = self._definition(record.asset_no, record.alarm)
                if definition is None or not definition.priority.at_least(self.min_priority):
                    continue
                self.orders.raise_from_alarm(
                    record.asset_no, definition, at=record.at, value=record.value
                )
                done += 1
            self._save(cursor)
            if len(records) < self.batch:
                break
        self.raised += done
        return done
