"""Journal entries: every transition and operator action, as written, published and exported.

One :class:`AlarmRecord` per entry of the append-only ``alarm_journal`` table, per message on
``facility/v1/events/alarms/<site>``, and per row of ``facility alarms export``. Entries that
are not about one alarm (a flood at a site) use the id ``<site>/flood`` and no asset.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import IO, Any

from facility.spreadsheet import spreadsheet_cell
from facility.types import PointValue
from gateway.alarms.state import AlarmState, EventKind

CSV_COLUMNS = (
    "id",
    "at",
    "alarm_id",
    "site",
    "asset_no",
    "alarm",
    "event",
    "from_state",
    "to_state",
    "priority",
    "value",
    "user",
    "comment",
    "detail",
)


@dataclass(frozen=True, slots=True)
class AlarmRecord:
    at: datetime
    alarm_id: str
    site: str
    asset_no: str | None
    alarm: str
    kind: EventKind
    from_state: AlarmState | None = None
    to_state: AlarmState | None = None
    priority: str | None = None
    value: PointValue = None
    user: str | None = None
    comment: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)
    annunciate: bool = False
    id: int | None = None  # journal row id, once written

    def with_id(self, row_id: int) -> AlarmRecord:
        return replace(self, id=row_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "v": 1,
            "id": self.id,
            "at": self.at.astimezone(UTC).isoformat(),
            "alarm_id": self.alarm_id,
            "site": self.site,
            "asset_no": self.asset_no,
            "alarm": self.alarm,
            "event": self.kind.value,
            "from_state": self.from_state.value if self.from_state else None,
            "to_state": self.to_state.value if self.to_state else None,
            "priority": self.priority,
            "value": self.value,
            "user": self.user,
            "comment": self.comment,
            "annunciate": self.annunciate,
            "detail": dict(self.detail),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AlarmRecord:
        at = datetime.fromisoformat(str(data["at"]))
        return cls(
            at=at if at.tzinfo else at.replace(tzinfo=UTC),
            alarm_id=str(data["alarm_id"]),
            site=str(data["site"]),
            asset_no=data.get("asset_no"),
            alarm=str(data["alarm"]),
            kind=EventKind(data["event"]),
            from_state=AlarmState(data["from_state"]) if data.get("from_state") else None,
            to_state=AlarmState(data["to_state"]) if data.get("to_state") else None,
            priority=data.get("priority"),
            value=data.get("value"),
            user=data.get("user"),
            comment=str(data.get("comment") or ""),
            detail=dict(data.get("detail") or {}),
            annunciate=bool(data.get("annunciate", False)),
            id=data.get("id"),
        )


def write_csv(records: Iterable[AlarmRecord], stream: IO[str]) -> int:
    """Journal entries as CSV (UTC ISO times, detail as JSON); returns the rows written."""
    writer = csv.writer(stream)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for record in records:
        data = record.to_json()
        row = [
            data["id"],
            data["at"],
            data["alarm_id"],
            data["site"],
            data["asset_no"] or "",
            data["alarm"],
            data["event"],
            data["from_state"] or "",
            data["to_state"] or "",
            data["priority"] or "",
            "" if data["value"] is None else data["value"],
            data["user"] or "",
            data["comment"],
            json.dumps(data["detail"], ensure_ascii=False, sort_keys=True),
        ]
        writer.writerow(map(spreadsheet_cell, row))  # a comment "=cmd|..." stays text
        count += 1
    return count
