"""The console's incidents, pure: which standing alarms belong to which incident (from the
engine's notes on their raises) and the one row an incident is shown as."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dashboards.console import (
    RaiseNote,
    activation_raise,
    incident_membership,
    incident_rows,
)
from gateway.alarms.journal import AlarmRecord
from gateway.alarms.state import EventKind

T0 = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
INC = "INC-HT-20260601T020000-1"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("notes", "expected"),
    [
        pytest.param(
            {
                "P/trip": RaiseNote(at(0)),
                "P/pressure_low": RaiseNote(at(2), INC, "P/trip"),
                "T/level_low": RaiseNote(at(5), INC, "P/trip"),
            },
            {"P/trip": (INC, True), "P/pressure_low": (INC, False), "T/level_low": (INC, False)},
            id="first-out-with-its-consequences",
        ),
        pytest.param(
            {
                "P/pressure_low": RaiseNote(at(2), INC, "P/trip"),
                "T/level_low": RaiseNote(at(5), INC, "P/trip"),
            },
            {"P/pressure_low": (INC, False), "T/level_low": (INC, False)},
            id="first-out-no-longer-standing",
        ),
        pytest.param(
            {
                "P/trip": RaiseNote(at(600)),  # raised again later: not the first-out any more
                "P/pressure_low": RaiseNote(at(2), INC, "P/trip"),
                "T/level_low": RaiseNote(at(5), INC, "P/trip"),
            },
            {"P/pressure_low": (INC, False), "T/level_low": (INC, False)},
            id="first-out-raised-again-later",
        ),
        pytest.param(
            {
                "P/trip": RaiseNote(at(0), "INC-HT-OTHER", "X/first"),  # in another incident
                "P/pressure_low": RaiseNote(at(2), INC, "P/trip"),
            },
            {"P/trip": ("INC-HT-OTHER", False), "P/pressure_low": (INC, False)},
            id="first-out-belongs-to-another-incident",
        ),
        pytest.param(
            {"P/trip": RaiseNote(at(0)), "L/lamps": RaiseNote(at(1))}, {}, id="no-incident"
        ),
    ],
)
def test_incident_membership(
    notes: dict[str, RaiseNote], expected: dict[str, tuple[str, bool]]
) -> None:
    assert incident_membership(notes) == expected


def _record(alarm_id: str, seconds: float, kind: EventKind = EventKind.RAISE,
            **detail: Any) -> AlarmRecord:  # fmt: skip
    asset_no, _, alarm = alarm_id.partition("/")
    return AlarmRecord(at(seconds), alarm_id, "HT", asset_no, alarm, kind, detail=detail)


def test_activation_raise_takes_the_raise_of_the_current_activation_only() -> None:
    records = [
        _record("P/trip", 0),  # an earlier activation
        _record("P/trip", 100, incident=INC, first_out="X/first", flood=True),
        _record("P/trip", 100, EventKind.ACK),  # not a raise
        _record("Q/other", 100, incident=INC),  # not asked for
    ]
    found = activation_raise(records, {"P/trip": at(100) + timedelta(microseconds=400)})
    assert found == {"P/trip": RaiseNote(at(100), INC, "X/first", True)}


def _row(alarm_id: str, prio: str, rank: int, state: str, state_rank: int, raised_s: float,
         inc: str = INC, first: bool = False, view: str = "standing", by: str = "",
         flood: bool = False) -> dict[str, Any]:  # fmt: skip
    return {
        "id": alarm_id, "asset": alarm_id.partition("/")[0], "name": "n", "site": "HT",
        "alarm": alarm_id, "cause": "", "action": "", "value": "", "limit": "",
        "prio": prio, "prio_label": prio.title(), "rank": rank, "state": state,
        "state_label": state, "state_rank": state_rank, "view": view,
        "raised": f"t{raised_s:g}", "raised_ms": int(at(raised_s).timestamp() * 1000),
        "by": by, "inc": inc, "first": "first out" if first else "", "flood": flood,
        "active": True,
    }  # fmt: skip


def test_an_incident_row_has_the_first_outs_text_the_highest_priority_and_the_count() -> None:
    rows = [
        _row("T/level_lolo", "critical", 0, "unack", 0, 5),
        _row("P/trip", "high", 1, "acked", 3, 0, first=True, by="li.na"),
        _row("P/pressure_low", "high", 1, "unack", 0, 2),
        _row("L/lamps", "low", 3, "unack", 0, 1, inc=""),  # on its own
        _row("F/zone", "medium", 2, "unack", 0, 3, view="shelved"),  # alone in its view
    ]
    [incident] = incident_rows(rows, "en")
    assert incident["key"] == f"{INC}|standing"
    assert incident["members"] == ["P/trip", "T/level_lolo", "P/pressure_low"]
    assert (incident["id"], incident["alarm"]) == ("P/trip", "P/trip")  # the first-out's
    assert (incident["prio"], incident["rank"]) == ("critical", 0)
    assert incident["state"] == "unack"  # the most urgent state of the members
    assert incident["raised"] == "t0"
    assert incident["related"] == "+2 related"
    assert incident["acked"] == "1 of 3 acknowledged"
    assert incident["flood"] == ""
    [zh] = incident_rows(rows, "zh")
    assert zh["related"] == "+2 条关联报警"


def test_without_its_first_out_an_incident_is_headed_by_its_earliest_member() -> None:
    rows = [
        _row("T/level_low", "medium", 2, "unack", 0, 5, flood=True),
        _row("P/pressure_low", "high", 1, "unack", 0, 2),
        _row("P/flow_low", "low", 3, "unack", 0, 4),
    ]
    [incident] = incident_rows(rows, "en")
    assert incident["id"] == "P/pressure_low"
    assert incident["flood"] == "during an alarm flood"
    # below the engine's three, rows stay rows: two alarms that merely came within a minute
    # of each other (the demo's fire and the pool's dry run) are not one incident
    assert incident_rows(rows[:2], "en") == []
    assert incident_rows(rows[:1], "en") == []
