"""What the alarm console shows, from the engine's saved states and the profiles: pure.

A row says what a person at the desk needs without opening anything: the asset's name, the
alarm's text from its profile (label, cause, action — the same text the notifications
send), the priority and state in words of the reader's language (never ``rtn_unack``), when
the alarm was first raised (the activation, not the last state change: acknowledging does
not move it), the value against its limit, who acknowledged and their comment, and for a
shelved alarm until when and why. The page filters, sorts and patches rows in the browser
(assets/facility.js); nothing here does I/O.

Incidents: the engine groups alarms raised at one site close together in time (a pump trip
with its low pressure and tank alarms; a flood from one cause) and writes the incident and
its first-out on each member's raise entry in the journal (gateway/alarms/floods.py).
``incident_membership`` reads those notes back, ``incident_rows`` makes one row per incident
of two or more standing members (the first-out's text, the highest priority, the count); the
page shows it as one expandable row.

Which operator action needs which permission is stated once, by the engine
(``gateway.alarms.core.OP_PERMISSION``; ``OP_PERMISSIONS`` here is its rows for the
console's actions): the page shows a button only to those who hold it,
``Queries.alarm_commands`` refuses everyone else before anything is sent, and the engine
checks again with the person's token.
What each action's button sends is a row of ``ACTIONS``; the page registers its callbacks
from the rows (dashboards/pages/alarms.py).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from dashboards import ids
from dashboards.i18n import t
from dashboards.tiles import format_value
from device_profiles.alarm_limits import AlarmDefinition
from device_profiles.models import DeviceProfile
from facility.spreadsheet import spreadsheet_cell
from facility.types import PRIORITY_ORDER, Asset, priority_rank
from gateway.alarms.core import OP_PERMISSION
from gateway.alarms.definitions import QUALITY_ALARM, quality_definition
from gateway.alarms.journal import AlarmRecord
from gateway.alarms.state import HIDDEN, AlarmState, EventKind
from gateway.alarms.store import CurrentAlarm
from maintenance.identity.roles import Permission


@dataclass(frozen=True)
class ConsoleAction:
    """One operator action: the engine's ``op``, the ``button`` that asks for it, the
    ``result`` area its outcome is shown in (actions on one area share one callback), the
    i18n key of its ``label``, and the form fields it ``sends`` (keys of ``FORM``)."""

    op: str
    button: str
    result: str
    label: str
    sends: tuple[str, ...] = ()


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _seconds(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 3600.0


# A form field the actions send: option name -> (component id, what the field's value becomes)
FORM: dict[str, tuple[str, Callable[[object], object]]] = {
    "comment": (ids.ACK_COMMENT, _text),
    "reason": (ids.SHELVE_REASON, _text),
    "for_s": (ids.SHELVE_FOR, _seconds),
}
ACTIONS = (
    ConsoleAction("ack", ids.ACK_BUTTON, ids.ACK_RESULT, "ack_button", ("comment",)),
    ConsoleAction("shelve", ids.SHELVE_BUTTON, ids.SHELVE_RESULT, "shelve_button",
                  ("for_s", "reason")),
    ConsoleAction("unshelve", ids.UNSHELVE_BUTTON, ids.SHELVE_RESULT, "unshelve_button"),
    ConsoleAction("reset", ids.RESET_BUTTON, ids.RESET_RESULT, "reset_button", ("comment",)),
    ConsoleAction("out_of_service", ids.OOS_BUTTON, ids.SERVICE_RESULT, "oos_button",
                  ("comment", "reason")),
    ConsoleAction("return_to_service", ids.RTS_BUTTON, ids.SERVICE_RESULT, "rts_button",
                  ("comment",)),
)  # fmt: skip
#: the outcome areas, in the order of their first action
RESULTS = tuple(dict.fromkeys(action.result for action in ACTIONS))
#: operator action → the permission it needs: the engine's own table (it checks again),
#: for the console's actions
OP_PERMISSIONS: dict[str, Permission] = {action.op: OP_PERMISSION[action.op] for action in ACTIONS}


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


@dataclass(frozen=True, slots=True)
class RaiseNote:
    """What the engine wrote on the raise that started an alarm's current activation: the
    incident it joined and that incident's first-out (None when it joined none: alone, or
    the first of one), and whether its site was in an alarm flood."""

    at: datetime
    incident: str | None = None
    first_out: str | None = None
    flood: bool = False


def raise_note(record: AlarmRecord) -> RaiseNote:
    """The note of a journal raise entry (``detail``: ``incident``, ``first_out``, ``flood``)."""
    detail = record.detail
    incident, first_out = detail.get("incident"), detail.get("first_out")
    return RaiseNote(
        record.at,
        incident if isinstance(incident, str) and incident else None,
        first_out if isinstance(first_out, str) and first_out else None,
        detail.get("flood") is True,
    )


def activation_raise(
    records: Iterable[AlarmRecord], activations: Mapping[str, datetime]
) -> dict[str, RaiseNote]:
    """Of journal ``records``, the raise of each alarm's current activation (``activations``:
    alarm id → ``active_since``; the engine stamps both with the same moment — a
    millisecond of slack for a database that rounds)."""
    found: dict[str, RaiseNote] = {}
    slack = timedelta(milliseconds=1)
    for record in records:
        since = activations.get(record.alarm_id)
        if record.kind is EventKind.RAISE and since is not None and abs(record.at - since) <= slack:
            found[record.alarm_id] = raise_note(record)
    return found


def incident_membership(notes: Mapping[str, RaiseNote]) -> dict[str, tuple[str, bool]]:
    """Alarm id → (incident id, is the first-out) for the alarms of ``notes`` (their current
    activation's raise) that belong to an incident. A member's note names the incident and
    its first-out; the first-out's own raise came before the others joined, so its note
    names none: it belongs when it is among ``notes`` with no incident of its own and was
    raised no later than the members (raised again later, it starts something else)."""
    members: dict[str, list[str]] = {}
    first_of: dict[str, str] = {}
    for alarm_id, note in notes.items():
        if note.incident is None:
            continue
        members.setdefault(note.incident, []).append(alarm_id)
        if note.first_out is not None:
            first_of.setdefault(note.incident, note.first_out)
    found: dict[str, tuple[str, bool]] = {}
    for incident, alarm_ids in members.items():
        first = first_of.get(incident)
        own = notes.get(first) if first is not None else None
        earliest = min(notes[a].at for a in alarm_ids)
        for alarm_id in alarm_ids:
            found[alarm_id] = (incident, alarm_id == first)
        if first is not None and own is not None and own.incident is None and own.at <= earliest:
            found[first] = (incident, True)
    return found


def console_row(
    alarm: CurrentAlarm,
    asset: Asset | None,
    profiles: Mapping[str, DeviceProfile],
    lang: str,
    tz: tzinfo,
    incident: tuple[str, bool] | None = None,
    flood: bool = False,
) -> dict[str, Any]:
    """One alarm as the console's store holds it (short keys: 500 rows a tick);
    ``incident``: (its incident's id, is it the first-out), ``flood``: raised in a flood."""
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
        "inc": incident[0] if incident else "",
        "first": t("first_out", lang) if incident and incident[1] else "",
        "flood": flood,
    }


def _row_order(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return (row["rank"], row["state_rank"], -row["raised_ms"], row["id"])


# the engine announces an incident once it holds three alarms (gateway/alarms/floods.py,
# IncidentGrouper.min_alarms); the console folds rows from the same count, not from two
INCIDENT_MIN_MEMBERS = 3


def incident_rows(rows: Sequence[Mapping[str, Any]], lang: str) -> list[dict[str, Any]]:
    """One row per incident and view (standing / shelved) holding ``INCIDENT_MIN_MEMBERS`` or
    more of ``rows`` (two alarms that merely came within a minute of each other — a fire and
    a pool pump — stay two rows):
    the first-out's asset and text (the earliest member's when the first-out is not among
    them), the highest priority and most urgent state of the members, the first raised time,
    the count ("+4 related") and how many are acknowledged. ``members`` lists the alarm ids,
    the first-out first, then most urgent first; the page filters and sorts the incident as
    a whole."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        if row.get("inc"):
            groups.setdefault((row["inc"], row["view"]), []).append(row)
    found: list[dict[str, Any]] = []
    for (incident, view), members in groups.items():
        if len(members) < INCIDENT_MIN_MEMBERS:
            continue
        # the first-out first (where it all began), then the others most urgent first
        members = sorted(members, key=lambda m: (not m["first"], *_row_order(m)))
        head = next((m for m in members if m["first"]), None)
        if head is None:
            head = min(members, key=lambda m: (m["raised_ms"] or 0, m["id"]))
        top = min(members, key=lambda m: m["rank"])
        worst = min(members, key=lambda m: m["state_rank"])
        acked = sum(1 for m in members if m["state"] == AlarmState.ACKED.value
                    or (m["state"] == AlarmState.LATCHED.value and m["by"]))  # fmt: skip
        found.append({
            "key": f"{incident}|{view}",
            "inc": incident,
            "view": view,
            "members": [m["id"] for m in members],
            "id": head["id"],
            "asset": head["asset"],
            "name": head["name"],
            "site": head["site"],
            "alarm": head["alarm"],
            "cause": head["cause"],
            "action": head["action"],
            "value": head["value"],
            "limit": head["limit"],
            "prio": top["prio"],
            "prio_label": top["prio_label"],
            "rank": top["rank"],
            "state": worst["state"],
            "state_label": worst["state_label"],
            "state_rank": worst["state_rank"],
            "raised": min((m for m in members if m["raised_ms"]), key=lambda m: m["raised_ms"],
                          default=head)["raised"],
            "raised_ms": min((m["raised_ms"] for m in members if m["raised_ms"]), default=0),
            "count": len(members),
            "related": t("incident_related", lang).format(n=len(members) - 1),
            "select_label": t("incident_select", lang),
            "acked": t("incident_acked", lang).format(a=acked, n=len(members)),
            "flood": t("incident_flood", lang) if any(m["flood"] for m in members) else "",
            "active": any(m["active"] for m in members),
        })  # fmt: skip
    return sorted(found, key=_row_order)


def sort_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Most urgent first, then unacknowledged first, then newest first."""
    return sorted(rows, key=_row_order)


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
