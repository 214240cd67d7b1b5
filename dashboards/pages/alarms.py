"""Alarms (``/alarms``): the alarm console — active alarms by priority, and Acknowledge.

States come from the alarm store (the engine's journal); acknowledging sends a command to
the running engine over MQTT and shows the engine's answer, or why it did not answer.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from dashboards import ids
from dashboards.access import current_principal, current_token
from dashboards.auth import gate
from dashboards.components import banner, queries, table
from dashboards.i18n import normalise, t
from facility.errors import FacilityError, PermissionDenied
from maintenance.identity.roles import Permission

dash.register_page(__name__, path="/alarms", name="Alarms", order=1)  # type: ignore[no-untyped-call]

TICK_MS = 5000


def _console(lang: str) -> tuple[list[Any], list[dict[str, str]]]:
    """The table (or a banner) and the options of the acknowledge menu."""
    q = queries()
    try:
        alarms = q.console_alarms(current_principal())
    except FacilityError as exc:
        return [banner(f"{t('unavailable', lang)}: {exc}")], []
    if not alarms:
        return [banner(t("no_alarms", lang), "ok")], []
    headers = [
        t(k, lang)
        for k in ("col_alarm", "col_priority", "col_state", "col_since", "col_value", "col_by")
    ]
    rows = []
    for alarm in alarms:
        status = alarm.status
        who = status.ack.user if status.ack is not None else ""
        value = "" if status.value is None else str(status.value)
        rows.append(
            [
                alarm.alarm_id,
                alarm.priority,
                html.Span(status.state.value, className=f"state-{status.state.value}"),
                q.local_time(status.since),
                value,
                who,
            ]
        )
    classes = [f"prio-{a.priority}" for a in alarms]
    options = [
        {"label": f"{a.alarm_id} ({a.priority}, {a.state.value})", "value": a.alarm_id}
        for a in alarms
    ]
    return [table(headers, rows, row_classes=classes)], options


def layout(lang: str | None = None, **_query: str) -> html.Div:
    lang = normalise(lang)
    console, options = _console(lang)
    # a courtesy only: the server refuses the acknowledge callback to those without it
    may_ack = current_principal().can(Permission.ALARM_ACK)
    return html.Div(
        [
            html.H1(t("alarms_title", lang)),
            html.Div(console, id=ids.ALARM_TABLE),
            html.H2(t("ack_title", lang), hidden=not may_ack),
            html.Div(
                [
                    html.Div(
                        dcc.Dropdown(
                            id=ids.ALARM_SELECT, options=options, placeholder=t("col_alarm", lang)
                        ),
                        className="ack-alarm",
                    ),
                    dcc.Input(
                        id=ids.ACK_COMMENT,
                        placeholder=t("ack_comment", lang),
                        type="text",
                        className="ack-input ack-comment",
                    ),
                    html.Button(t("ack_button", lang), id=ids.ACK_BUTTON, className="btn"),
                ],
                className="ack-form",
                style=None if may_ack else {"display": "none"},
            ),
            html.Div(id=ids.ACK_RESULT),
            dcc.Interval(id=ids.ALARM_TICK, interval=TICK_MS),
        ]
    )


def register_callbacks(app: dash.Dash) -> None:
    @app.callback(
        Output(ids.ALARM_TABLE, "children"),
        Output(ids.ALARM_SELECT, "options"),
        Input(ids.ALARM_TICK, "n_intervals"),
        Input(ids.ACK_RESULT, "children"),
        State(ids.LANG, "data"),
        prevent_initial_call=True,
    )
    def refresh(_n: int | None, _ack: object, lang: str | None) -> tuple[Any, Any]:
        return _console(normalise(lang))

    @app.callback(
        Output(ids.ACK_RESULT, "children"),
        Input(ids.ACK_BUTTON, "n_clicks"),
        State(ids.ALARM_SELECT, "value"),
        State(ids.ACK_COMMENT, "value"),
        State(ids.LANG, "data"),
        prevent_initial_call=True,
    )
    def acknowledge(
        _clicks: int | None,
        alarm_id: str | None,
        comment: str | None,
        lang: str | None,
    ) -> html.Div:
        lang = normalise(lang)
        if not alarm_id:
            return banner(t("ack_need_alarm", lang), "warn")
        # the person is the signed-in one, never a typed name; the engine gets their token
        principal = current_principal()
        try:
            state = queries().acknowledge(alarm_id, principal, current_token(), comment or "")
        except PermissionDenied as exc:
            gate().refuse(principal, f"alarm:{alarm_id[:100]}", str(exc), 403)
            return banner(f"{t('ack_failed', lang)} {alarm_id}: {exc}")
        except FacilityError as exc:
            return banner(f"{t('ack_failed', lang)} {alarm_id}: {exc}")
        return banner(f"{t('ack_done', lang)} {alarm_id}: {state.get('state', '')}", "ok")
