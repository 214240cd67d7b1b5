"""Alarms (``/alarms``): the alarm console of the 24-hour centre.

Three views: the standing alarms, the shelved and out-of-service ones, and the journal
(search, CSV export). A row says the asset's name, the alarm's text with its cause and
action from the profile, priority and state in the reader's language, when it was first
raised, value and limit, who acknowledged with their comment (``dashboards.console``).

Updated in place: a 1 s tick asks the server for the rows, which answers only when they
changed (a digest in a small store); one clientside function (assets/facility.js) filters,
sorts and patches the table's rows by alarm id — no table is rebuilt per tick (the old
console rebuilt 164 rows every 5 s: 32 % of a core in the browser). Ticking rows selects
them; the actions (acknowledge with comment — required for a critical alarm —, shelve for
a time with a reason, unshelve, reset latched, out of / return to service) act for the
signed-in person with their session token. Each action is a row of
``dashboards.console.ACTIONS`` (its button, where its outcome shows, what of the form it
sends); one factory here registers a callback per outcome area from the rows. Each action
needs its own permission (``dashboards.console.OP_PERMISSIONS``, checked on the server); a
button is shown only to those who hold it.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State, ctx, dcc, html

from dashboards import ids
from dashboards.access import current_principal, current_token
from dashboards.auth import gate
from dashboards.components import banner, queries
from dashboards.console import (
    ACTIONS,
    FORM,
    JOURNAL_COLUMNS,
    OP_PERMISSIONS,
    RESULTS,
    SHELVE_CHOICES_MIN,
    journal_csv,
)
from dashboards.i18n import normalise, t
from facility.errors import FacilityError, PermissionDenied
from facility.types import PRIORITY_ORDER
from gateway.alarms.state import AlarmState

dash.register_page(__name__, path="/alarms", name="Alarms", order=1)  # type: ignore[no-untyped-call]

TICK_MS = 1000  # the 1 s tick issue 12 benchmarks; nothing travels when nothing changed
SYSTEMS = ("water_supply", "pool", "lighting", "fire", "system")
COLUMNS = ("col_priority", "col_state", "col_asset", "col_alarm", "col_raised", "col_value",
           "col_ack")  # fmt: skip
JOURNAL_HEADERS = ("col_at", "col_asset", "col_name", "col_alarm", "col_event", "col_state",
                   "col_priority", "col_value", "col_by", "ack_comment")  # fmt: skip


def _digest(snapshot: dict[str, Any]) -> str:
    digest = snapshot.get("digest")
    return digest if isinstance(digest, str) else ""


def _snapshot(lang: str) -> tuple[dict[str, Any], Any]:
    try:
        return queries().console_snapshot(lang, current_principal()), ""
    except FacilityError as exc:
        return {"rows": [], "counts": {}}, banner(f"{t('unavailable', lang)}: {exc}")


def _dropdown(component_id: str, options: list[dict[str, str]], lang: str) -> html.Div:
    return html.Div(
        dcc.Dropdown(
            id=component_id,
            options=options,
            multi=True,
            placeholder=t("filter_all", lang),
        ),
        className="console-filter",
    )


def _actions(lang: str) -> html.Div:
    principal = current_principal()
    # a courtesy only: the server refuses each action's callback to those without it
    may = {op: principal.can(permission) for op, permission in OP_PERMISSIONS.items()}

    def shown(op: str) -> dict[str, str] | None:
        return None if may[op] else {"display": "none"}

    shelve_options = [
        {"label": f"{m // 60} h" if m >= 60 else f"{m} min", "value": m * 60}
        for m in SHELVE_CHOICES_MIN
    ]
    return html.Div(
        [
            html.Span("0", id=ids.CONSOLE_COUNT, className="console-count"),
            html.Span(t("selected", lang), className="console-count-label"),
            html.Div(
                [
                    dcc.Input(id=ids.ACK_COMMENT, placeholder=t("ack_comment", lang), type="text",
                              maxLength=500, className="ack-input ack-comment"),
                    html.Button(t("ack_button", lang), id=ids.ACK_BUTTON, className="btn"),
                ],
                className="action-group", style=shown("ack"),
            ),
            html.Div(
                [
                    dcc.Dropdown(id=ids.SHELVE_FOR, options=shelve_options,
                                 value=3600, clearable=False, className="shelve-for"),
                    dcc.Input(id=ids.SHELVE_REASON, placeholder=t("shelve_reason", lang),
                              type="text", maxLength=200, className="ack-input"),
                    html.Button(t("shelve_button", lang), id=ids.SHELVE_BUTTON, className="btn"),
                    html.Button(t("unshelve_button", lang), id=ids.UNSHELVE_BUTTON,
                                className="btn btn-quiet"),
                ],
                className="action-group", style=shown("shelve"),
            ),
            html.Div(
                html.Button(t("reset_button", lang), id=ids.RESET_BUTTON, className="btn"),
                className="action-group", style=shown("reset"),
            ),
            html.Div(
                [
                    html.Button(t("oos_button", lang), id=ids.OOS_BUTTON, className="btn"),
                    html.Button(t("rts_button", lang), id=ids.RTS_BUTTON,
                                className="btn btn-quiet"),
                ],
                className="action-group", style=shown("out_of_service"),
            ),
        ],
        className="ack-form console-actions",
    )  # fmt: skip


def layout(lang: str | None = None, **_query: str) -> html.Div:
    lang = normalise(lang)
    q = queries()
    principal = current_principal()
    snapshot, problem = _snapshot(lang)
    try:
        sites = q.sites(principal)
    except FacilityError:
        sites = []
    site_options = [
        {"label": f"{s.name_zh if lang == 'zh' else s.name_en} ({s.code})", "value": s.code}
        for s in sites
    ]
    states = (AlarmState.UNACK, AlarmState.ACKED, AlarmState.RTN_UNACK, AlarmState.LATCHED,
              AlarmState.SHELVED, AlarmState.OUT_OF_SERVICE, AlarmState.SUPPRESSED)  # fmt: skip
    views = [
        {"label": t("tab_standing", lang), "value": "standing"},
        {"label": t("tab_shelved", lang), "value": "shelved"},
        {"label": t("tab_journal", lang), "value": "journal"},
    ]
    filters = html.Div(
        [
            _dropdown(ids.FILTER_SITE, site_options, lang),
            _dropdown(ids.FILTER_SYSTEM,
                      [{"label": t(f"sys_{s}", lang), "value": s} for s in SYSTEMS], lang),
            _dropdown(ids.FILTER_PRIORITY,
                      [{"label": t(f"prio_{p}", lang), "value": p} for p in PRIORITY_ORDER], lang),
            _dropdown(ids.FILTER_STATE,
                      [{"label": t(f"state_{s.value}", lang), "value": s.value} for s in states],
                      lang),
            html.Div(
                dcc.Dropdown(
                    id=ids.SORT_SELECT, clearable=False, value="priority",
                    options=[{"label": t(f"sort_{k}", lang), "value": k}
                             for k in ("priority", "raised", "asset")],
                ),
                className="console-filter",
            ),
            dcc.Input(id=ids.CONSOLE_SEARCH, type="search", placeholder=t("filter_search", lang),
                      className="ack-input console-search", debounce=False),
        ],
        className="console-filters",
    )  # fmt: skip
    headers = [
        html.Th(
            dcc.Checklist(
                id=ids.SELECT_ALL,
                options=[{"label": "", "value": "all"}],
                value=[],
                className="select-all",
            ),
            className="col-sel",
        )
    ]
    headers += [html.Th(t(c, lang)) for c in COLUMNS]  # fmt: skip
    console_panel = html.Div(
        [
            filters,
            _actions(lang),
            *[html.Div(id=result) for result in RESULTS],
            html.Div(problem, id=ids.ALARM_BANNER),
            html.Div(
                html.Table(
                    [html.Thead(html.Tr(headers)), html.Tbody(id=ids.CONSOLE_BODY)],
                    className="grid-table console-table",
                ),
                id=ids.ALARM_TABLE,
                className="table-scroll",
            ),
            html.Div(t("no_alarms", lang), className="console-empty", hidden=True),
        ],
        id=ids.CONSOLE_PANEL,
    )
    journal_panel = html.Div(
        [
            html.Div(
                [
                    dcc.Input(id=ids.JOURNAL_SEARCH, type="search", debounce=True,
                              placeholder=t("filter_search", lang),
                              className="ack-input console-search"),
                    html.Span(t("journal_days", lang), className="note"),
                    html.Button(t("export_csv", lang), id=ids.JOURNAL_EXPORT, className="btn"),
                    dcc.Download(id=ids.JOURNAL_DOWNLOAD),
                ],
                className="console-filters",
            ),
            html.Div(id=ids.JOURNAL_TABLE, className="table-scroll"),
        ],
        id=ids.JOURNAL_PANEL,
        style={"display": "none"},
    )  # fmt: skip
    return html.Div(
        [
            html.H1(t("alarms_title", lang)),
            dcc.RadioItems(id=ids.CONSOLE_VIEW, options=views, value="standing",
                           className="console-views", inline=True),
            console_panel,
            journal_panel,
            dcc.Store(id=ids.CONSOLE_STORE, data=snapshot),
            dcc.Store(id=ids.CONSOLE_VERSION, data=_digest(snapshot)),
            dcc.Store(id=ids.CONSOLE_SELECTED, data=[]),
            dcc.Interval(id=ids.ALARM_TICK, interval=TICK_MS),
            html.Div(id=ids.CONSOLE_RENDERED, hidden=True),
        ]
    )  # fmt: skip


def _outcome(lang: str, op_label: str, results: list[tuple[str, str | None]]) -> html.Div:
    done = [a for a, why in results if why is None]
    failed = [(a, why) for a, why in results if why is not None]
    parts: list[Any] = []
    if done:
        parts.append(banner(f"{t('done', lang)} · {op_label}: {', '.join(done)}", "ok"))
    for alarm_id, why in failed[:20]:
        parts.append(banner(f"{t('failed', lang)} · {op_label} {alarm_id}: {why}"))
    return html.Div(parts)


def _act(op: str, selected: list[str] | None, lang: str | None, label_key: str,
         **options: Any) -> html.Div:  # fmt: skip
    lang = normalise(lang)
    label = t(label_key, lang)
    alarm_ids = [a for a in (selected or []) if isinstance(a, str)]
    if not alarm_ids:
        return banner(t("need_selection", lang), "warn")
    principal = current_principal()
    try:
        results = queries().alarm_commands(op, alarm_ids, principal, current_token(), **options)
    except PermissionDenied as exc:
        gate().refuse(principal, f"alarm:{op}:{','.join(alarm_ids)[:100]}", str(exc), 403)
        return banner(f"{t('failed', lang)} · {label}: {exc}")
    except FacilityError as exc:
        text = str(exc)
        if text.startswith("comment: required"):
            text = f"{t('need_comment_critical', lang)} ({text})"
        elif text.startswith("reason: required"):
            text = f"{t('need_reason', lang)} ({text})"
        return banner(f"{t('failed', lang)} · {label}: {text}", "warn")
    return _outcome(lang, label, results)


def _register_action(app: dash.Dash, result: str) -> None:
    """One callback for the actions whose outcome shows in ``result``: the button clicked
    picks the row; the row says what of the form goes with it."""
    group = [action for action in ACTIONS if action.result == result]
    fields = list(dict.fromkeys(field for action in group for field in action.sends))

    @app.callback(
        Output(result, "children"),
        *[Input(action.button, "n_clicks") for action in group],
        State(ids.CONSOLE_SELECTED, "data"),
        *[State(FORM[field][0], "value") for field in fields],
        State(ids.LANG, "data"),
        prevent_initial_call=True,
    )
    def act(*values: Any) -> html.Div:
        # the person is the signed-in one, never a typed name; the engine gets their token
        selected, *form, lang = values[len(group) :]
        given = dict(zip(fields, form, strict=True))
        action = next((a for a in group if a.button == ctx.triggered_id), group[0])
        options = {field: FORM[field][1](given[field]) for field in action.sends}
        return _act(action.op, selected, lang, action.label, **options)


def register_callbacks(app: dash.Dash) -> None:
    @app.callback(
        Output(ids.CONSOLE_STORE, "data"),
        Output(ids.CONSOLE_VERSION, "data"),
        Output(ids.ALARM_BANNER, "children"),
        Input(ids.ALARM_TICK, "n_intervals"),
        *[Input(result, "children") for result in RESULTS],  # an action's outcome: refresh
        State(ids.CONSOLE_VERSION, "data"),
        State(ids.LANG, "data"),
        prevent_initial_call=True,
    )
    def refresh(*values: Any) -> tuple[Any, Any, Any]:
        version, lang = values[-2:]
        snapshot, problem = _snapshot(normalise(lang))
        digest = _digest(snapshot)
        if digest == version:
            # nothing changed: no rows travel, nothing is patched
            return dash.no_update, dash.no_update, problem
        return snapshot, digest, problem

    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction(namespace="facility", function_name="renderConsole"),
        Output(ids.CONSOLE_RENDERED, "title"),
        Input(ids.CONSOLE_STORE, "data"),
        Input(ids.CONSOLE_VIEW, "value"),
        Input(ids.FILTER_SITE, "value"),
        Input(ids.FILTER_SYSTEM, "value"),
        Input(ids.FILTER_PRIORITY, "value"),
        Input(ids.FILTER_STATE, "value"),
        Input(ids.SORT_SELECT, "value"),
        Input(ids.CONSOLE_SEARCH, "value"),
        Input(ids.SELECT_ALL, "value"),
    )

    for result in RESULTS:
        _register_action(app, result)

    @app.callback(
        Output(ids.CONSOLE_PANEL, "style"),
        Output(ids.JOURNAL_PANEL, "style"),
        Output(ids.JOURNAL_TABLE, "children"),
        Input(ids.CONSOLE_VIEW, "value"),
        Input(ids.JOURNAL_SEARCH, "value"),
        State(ids.LANG, "data"),
        prevent_initial_call=True,
    )
    def journal(view: str | None, search: str | None, lang: str | None) -> tuple[Any, Any, Any]:
        if view != "journal":
            return None, {"display": "none"}, dash.no_update
        lang = normalise(lang)
        try:
            rows = queries().journal_rows(lang, current_principal(), (search or "")[:200])
        except FacilityError as exc:
            return {"display": "none"}, None, banner(f"{t('unavailable', lang)}: {exc}")
        if not rows:
            return {"display": "none"}, None, banner(t("no_entries", lang), "ok")
        headers = [html.Th(t(h, lang)) for h in JOURNAL_HEADERS]
        body = [html.Tr([html.Td(r[c]) for c in JOURNAL_COLUMNS]) for r in rows[:500]]
        table = html.Table([html.Thead(html.Tr(headers)), html.Tbody(body)],
                           className="grid-table journal-table")  # fmt: skip
        return {"display": "none"}, None, table

    @app.callback(
        Output(ids.JOURNAL_DOWNLOAD, "data"),
        Input(ids.JOURNAL_EXPORT, "n_clicks"),
        State(ids.JOURNAL_SEARCH, "value"),
        State(ids.LANG, "data"),
        prevent_initial_call=True,
    )
    def export(_clicks: int | None, search: str | None, lang: str | None) -> dict[str, Any]:
        lang = normalise(lang)
        rows = queries().journal_rows(lang, current_principal(), (search or "")[:200],
                                      limit=100_000)  # fmt: skip
        headers = [t(h, lang) for h in JOURNAL_HEADERS]
        return {"content": journal_csv(rows, headers), "filename": "alarm-journal.csv",
                "type": "text/csv"}  # fmt: skip
