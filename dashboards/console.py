"""What the alarm console shows, from the engine's saved states and the profiles: pure.

A row says what a person at the desk needs without opening anything: the asset's name, the
alarm's text from its profile (label, cause, action — the same text the notifications
send), the priority and state in words of the reader's language (never ``rtn_unack``), when
the alarm was first raised (the activation, not the last state change: acknowledging does
not move it), the value against its limit, who acknowledged and their comment, and for a
shelved alarm until when and why. The page filters, sorts and patches rows in the browser
(assets/facility.js); nothing here does I/O.

Which operator action needs which permission is stated once, here (``OP_PERMISSIONS``):
the page shows a button only to those who hold it, ``Queries.alarm_commands`` refuses
everyone else before anything is sent, and the engine checks again with the person's token.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from dashboards.i18n import t
from dashboards.tiles import format_value
from device_profiles.alarm_limits import AlarmDefinition
from device_profiles.models import DeviceProfile
from facility.spreadsheet import spreadsheet_cell
from facility.types import PRIORITY_ORDER, Asset, priority_rank
from gateway.alarms.definitions import QUALITY_ALARM, quality_definition
from gateway.alarms.journal import AlarmRecord
from gateway.alarms.state import HIDDEN, AlarmState
from gateway.alarms.store import CurrentAlarm
from maintenance.identity.roles import Permission

#: operator action → the permission it needs (the engine's ``CommandOp`` names)
OP_PERMISSIONS: dict[str, Permission] = {
    "ack": Permission.ALARM_ACK,
    "shelve": Permission.ALARM_SHELVE,
    "unshelve": Permission.ALARM_SHELVE,
    "reset": Permission.ALARM_RESET,
    "out_of_service": Permission.ALARM_SERVICE,
    "return_to_service": Permission.ALARM_SERVICE,
}
MAX_BATCH = 200  # alarms one action may name (a flood is acknowledged in a few clicks)
COMMENT_MAX = 500
SHELVE_CHOICES_MIN = (15, 60, 240, 480)  # the engine refuses more than the alarm's maximum
STATE_ORDER = {
    AlarmState.UNACK: 0,
    AlarmState.RTN_UNACK: 1,
    AlarmState.LATCHED: 2,
    AlarmState.ACKED: 3,
}


def alarm_definition(
    profiles: Mapping[str, DeviceProfile], asset: Asset | None, name: str
) -> AlarmDefinition | None:
    """The profile's definition of alarm ``name`` of ``asset`` (None if unknown)."""
    if name == QUALITY_ALARM:
        return quality_definition()
    profile = profiles.get(asset.profile or "") if asset is not None else None
    if profile is None:
        return None
    return next((a for a in profile.alarms if a.name == name), None)


def _unit(profiles: Mapping[str, DeviceProfile], asset: Asset | None, point: str | None) -> str:
    profile = profiles.get(asset.profile or "") if asset is not None else None
    if profile is None or point is None:
        return ""
    found = next((p for p in profile.points if p.name == point), None)
    return found.unit if found is not None else ""


def _limit(definition: AlarmDefinition | None, unit: str, lang: str) -> str:
    if definition is None:
        return ""
    if definition.limit is not None:
        return format_value(float(definition.limit), unit)
    if definition.states:
        return ", ".join(
            (t("on", lang) if s else t("off", lang)) if isinstance(s, bool) else str(s)
            for s in definition.states
        )
    return ""


def _when(moment: datetime | None, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def alarm_label(alarm: CurrentAlarm | AlarmRecord, definition: AlarmDefinition | None,
                lang: str) -> str:  # fmt: skip
    """The alarm's name in ``lang``: the profile's label, else the catalogue's, else its id."""
    if definition is not None:
        return definition.label.zh if lang == "zh" else definition.label.en
    known = t(f"alarm_{alarm.alarm}", lang)
    return alarm.alarm if known == f"alarm_{alarm.alarm}" else known


def console_row(
    alarm: CurrentAlarm,
    asset: Asset | None,
    profiles: Mapping[str, DeviceProfile],
    lang: str,
    tz: tzinfo,
) -> dict[str, Any]:
    """One alarm as the console's store holds it (short keys: 500 rows a tick)."""
    status = alarm.status
    definition = alarm_definition(profiles, asset, alarm.alarm)
    unit = _unit(profiles, asset, definition.point if definition else None)
    text = definition.text if definition is not None else None
    zh = lang == "zh"
    cause = (text.cause.zh if zh else text.cause.en) if text else ""
    action = (text.action.zh if zh else text.action.en) if text else ""
    # first raised: the activation (acknowledging or returning to normal does not move it)
    raised = status.active_since or status.since
    shelve, oos = status.shelve, status.out_of_service
    by = status.ack
    if by is None and oos is not None:
        by = oos
    state = status.state
    limit = _limit(definition, unit, lang)
    value = "" if status.value is None else format_value(status.value, unit)
    if isinstance(status.value, bool):
        value = t("on", lang) if status.value else t("off", lang)
    return {
        "id": alarm.alarm_id,
        "asset": alarm.asset_no,
        "name": (asset.name_zh if zh else asset.name_en) if asset else alarm.asset_no,
        "site": alarm.site,
        "system": asset.system if asset else "system",
        "system_label": t(f"sys_{asset.system if asset else 'system'}", lang),
        "alarm": alarm_label(alarm, definition, lang),
        "cause": cause,
        "action": action,
        "prio": alarm.priority,
        "prio_label": t(f"prio_{alarm.priority}", lang),
        "rank": priority_rank(alarm.priority),
        "state": state.value,
        "state_label": t(f"state_{state.value}", lang),
        "state_rank": STATE_ORDER.get(state, 4),
        "view": "shelved" if state in HIDDEN else "standing",
        "raised": _when(raised, tz),
        "raised_ms": int(raised.timestamp() * 1000) if raised else 0,
        "value": value,
        "limit": f"{t('col_limit', lang)}: {limit}" if limit else "",
        "by": by.user if by else "",
        "comment": by.comment if by else "",
        "until": _when(shelve.until, tz) if shelve else "",
        "reason": (shelve.reason or shelve.comment) if shelve else "",
        "active": status.active,
    }


def sort_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Most urgent first, then unacknowledged first, then newest first."""
    return sorted(rows, key=lambda r: (r["rank"], r["state_rank"], -r["raised_ms"], r["id"]))


def priority_counts(alarms: Iterable[CurrentAlarm]) -> dict[str, list[int]]:
    """Per priority ``[standing, unacknowledged]`` of annunciated alarms (the header's counter)."""
    counts = {p: [0, 0] for p in PRIORITY_ORDER}
    for alarm in alarms:
        if alarm.state in HIDDEN or alarm.priority not in counts:
            continue
        counts[alarm.priority][0] += 1
        if alarm.state in (AlarmState.UNACK, AlarmState.RTN_UNACK):
            counts[alarm.priority][1] += 1
    return counts


def journal_row(
    record: AlarmRecord,
    asset: Asset | None,
    profiles: Mapping[str, DeviceProfile],
    lang: str,
    tz: tzinfo,
) -> dict[str, str]:
    """One journal entry in the reader's language."""
    definition = alarm_definition(profiles, asset, record.alarm)
    zh = lang == "zh"
    to_state = record.to_state.value if record.to_state else ""
    return {
        "at": _when(record.at, tz),
        "asset": record.asset_no or "",
        "name": (asset.name_zh if zh else asset.name_en) if asset else "",
        "alarm": alarm_label(record, definition, lang),
        "event": t(f"ev_{record.kind.value}", lang),
        "state": t(f"state_{to_state}", lang) if to_state else "",
        "prio": t(f"prio_{record.priority}", lang) if record.priority else "",
        "value": "" if record.value is None else str(record.value),
        "user": record.user or "",
        "comment": record.comment,
    }


def matches(row: Mapping[str, str], search: str) -> bool:
    """Does any text of ``row`` contain every word of ``search`` (case-insensitive)?"""
    text = " ".join(str(v) for v in row.values()).casefold()
    return all(word in text for word in search.casefold().split())


JOURNAL_COLUMNS = ("at", "asset", "name", "alarm", "event", "state", "prio", "value", "user",
                   "comment")  # fmt: skip


def journal_csv(rows: Sequence[Mapping[str, str]], headers: Sequence[str]) -> str:
    """The journal view as CSV; every text cell through the spreadsheet formula guard (an
    operator's comment ``=HYPERLINK(...)`` stays text in Excel)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([spreadsheet_cell(h) for h in headers])
    for row in rows:
        writer.writerow([spreadsheet_cell(row.get(c, "")) for c in JOURNAL_COLUMNS])
    return out.getvalue()
