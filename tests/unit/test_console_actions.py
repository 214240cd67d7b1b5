"""The alarm console's actions as rows of data (dashboards.console.ACTIONS) against the
permission table, the engine's operations and the app's real callbacks."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from dashboards.app import create_app
from dashboards.console import ACTIONS, FORM, OP_PERMISSIONS, RESULTS
from dashboards.queries import Queries
from facility.config import Settings
from gateway.alarms.core import COMMAND_OPS


@pytest.fixture(scope="module")
def callbacks() -> dict[str, Any]:
    app = create_app(Settings())
    # Dash adds the page router on its first request; the sign-in form needs no database
    assert app.server.test_client().get("/login").status_code == 200
    return dict(app.callback_map)


def test_one_row_per_operator_action() -> None:
    ops = [action.op for action in ACTIONS]
    assert sorted(ops) == sorted(OP_PERMISSIONS)  # each action needs a permission, once
    assert set(ops) <= set(COMMAND_OPS)  # ... and is an operation the engine knows
    buttons = [action.button for action in ACTIONS]
    assert len(set(buttons)) == len(buttons)


def test_what_each_action_sends_is_what_the_command_takes() -> None:
    takes = set(inspect.signature(Queries.alarm_commands).parameters)
    for action in ACTIONS:
        assert set(action.sends) <= set(FORM), action.op
        assert set(action.sends) <= takes, action.op


def test_each_outcome_area_is_one_callback_on_its_buttons_and_fields(
    callbacks: dict[str, Any],
) -> None:
    assert list(RESULTS) == ["ack-result", "shelve-result", "reset-result", "service-result"]
    for result in RESULTS:
        entry = callbacks[f"{result}.children"]
        inputs = {(i["id"], i["property"]) for i in entry["inputs"]}
        states = {(s["id"], s["property"]) for s in entry["state"]}
        group = [a for a in ACTIONS if a.result == result]
        assert inputs == {(a.button, "n_clicks") for a in group}
        sent = {FORM[f][0] for a in group for f in a.sends}
        assert states == {("console-selected", "data"), ("lang", "data")} | {
            (component, "value") for component in sent
        }


@pytest.mark.parametrize(
    ("field", "value", "sent"),
    [
        ("comment", None, ""),
        ("comment", "pump reset on site", "pump reset on site"),
        ("reason", None, ""),
        ("for_s", 900, 900.0),
        ("for_s", None, 3600.0),  # an empty dropdown: an hour, as the default choice
        ("for_s", "x", 3600.0),
    ],
)
def test_form_values(field: str, value: object, sent: object) -> None:
    assert FORM[field][1](value) == sent
