"""Asset (``/asset/<asset_no>``, or ``/asset`` with a menu): the ledger record (make, model,
serial, install date, location, criticality, status, parent), the QR label (the code of this
page's address, drawn by ``dashboards/qr.py``, and the printable label as a PDF at
``/labels/<asset_no>.pdf``), the live values of every point of its profile (value, quality,
age; updated in place each second by assets/asset_live.js from one store, judged stale or
bad as the overview's tiles are), its open work orders (each a link to its order and to the
phone page), and then a trend of up to four points on
one chart over 24 h / 7 d / 1 y (``History.series`` picks raw, 1-minute or 1-hour data per
point), with the profile's alarm limits as dashed lines and the asset's alarm raises as
markers and its work orders' creation and closing as markers (``dashboards/trends.py``), a
**live** tail (the right edge kept at now, the chosen points' newest readings from the live
feed appended each tick with Plotly ``extendTraces`` in the browser, assets/trend_live.js —
the figure is not redrawn), and the asset's timeline of work orders, alarms, meter readings
and status changes."""

from __future__ import annotations

from typing import Any

import dash
import flask
import plotly.graph_objects as go
from dash import ClientsideFunction, Input, Output, State, dcc, html

from dashboards import ids
from dashboards.access import current_principal
from dashboards.asset_view import record_fields
from dashboards.components import banner, queries, table
from dashboards.i18n import LABELS, normalise, t
from dashboards.qr import qr_data_url
from dashboards.queries import PointChoice
from dashboards.tiles import KEY_POINTS
from dashboards.trends import MAX_TREND_POINTS, Trend, trend_figure
from facility.errors import FacilityError
from maintenance.reports.labels import AssetTag, render_labels_pdf
from maintenance.sheet import qr_text

dash.register_page(__name__, path_template="/asset/<asset_no>", name="Asset", order=3)  # type: ignore[no-untyped-call]

DEFAULT_RANGE = "24h"
TAIL_MS = 2000  # the live tail's tick
LIVE_MS = 1000  # the live values' tick
LABEL_ROUTE = "/labels/<asset_no>.pdf"


def label_url(asset_no: str) -> str:
    """The printable label of an asset (one label of the A4 label sheet, PDF)."""
    return f"/labels/{asset_no}.pdf"


def page_url(asset_no: str) -> str:
    """What the asset's QR code holds: its page on the dashboard as technicians reach it
    (``[maintenance] dashboard_url``), else as this request reached it."""
    base = queries().settings.maintenance.dashboard_url or flask.request.host_url
    return qr_text(asset_no, base)


def _words(key: str | None, value: str, lang: str) -> str:
    return t(key, lang) if key is not None and key in LABELS else value


def _record(asset_no: str | None, lang: str) -> list[Any]:
    """The ledger record card and the QR label beside it."""
    if not asset_no:
        return []
    try:
        asset = queries().asset_record(asset_no, current_principal())
    except FacilityError as exc:
        return [banner(f"{t('unavailable', lang)}: {exc}")]
    rows: list[Any] = []
    for key, value, words in record_fields(asset, lang):
        rows.append(html.Dt(t(key, lang)))
        rows.append(html.Dd(_words(words, value, lang) or "—", className=f"field-{key}"))
    target = page_url(asset.asset_no)
    qr_attributes: dict[str, Any] = {"data-qr-text": target}  # what the code holds
    return [
        html.Div([html.H2(t("rec_title", lang)), html.Dl(rows)], className="record-card"),
        html.Div(
            [
                html.Img(src=qr_data_url(target), alt=t("qr_alt", lang).format(asset=asset_no),
                         className="qr-code"),
                html.Div(asset.asset_no, className="qr-number"),
                html.A(t("qr_print", lang), href=label_url(asset.asset_no),
                       id=ids.ASSET_LABEL_LINK, className="qr-print"),
            ],
            id=ids.ASSET_QR,
            className="qr-label",
            **qr_attributes,
        ),
    ]  # fmt: skip


def _live(asset_no: str | None, lang: str) -> list[Any]:
    """The live values table: one row per point, its cells filled now and then patched in
    place each tick by assets/asset_live.js (same nodes)."""
    if not asset_no:
        return []
    principal = current_principal()
    try:
        points = queries().asset_live_points(asset_no, principal)
        cells = queries().asset_live(asset_no, lang, principal)["points"]
    except FacilityError as exc:
        return [banner(f"{t('unavailable', lang)}: {exc}")]
    if not points:
        return [html.P(t("live_not_monitored", lang), className="note")]
    body = []
    for p in points:
        now = cells.get(p.name, {})
        body.append(
            html.Tr(
                [html.Td(p.label(lang), className="live-point")]
                + [html.Td(now.get(f, ""), id=ids.asset_live_cell(p.name, f),
                           className=f"live-{f}")
                   for f in ("value", "quality", "age")],
                id=ids.asset_live_cell(p.name, "row"),
                className=f"live-row tile-{now.get('state', 'nodata')}",
            )
        )  # fmt: skip
    headers = [t(k, lang) for k in ("point", "col_value", "col_quality", "col_age")]
    return [
        html.Table(
            [html.Thead(html.Tr([html.Th(h) for h in headers])), html.Tbody(body)],
            className="grid-table live-table",
        )
    ]


def _orders(asset_no: str | None, lang: str) -> list[Any]:
    """The asset's open work orders, each a link to its order (and to the phone page)."""
    if not asset_no:
        return []
    q = queries()
    try:
        orders = q.asset_orders(asset_no, current_principal())
    except FacilityError as exc:
        return [banner(f"{t('unavailable', lang)}: {exc}")]
    if not orders:
        return [html.P(t("no_orders", lang), className="note")]
    headers = [t(k, lang) for k in ("col_number", "col_kind", "col_priority", "col_state",
                                    "col_due", "col_assignee")]  # fmt: skip
    rows = [
        [
            html.Span([
                dcc.Link(o.number, href=f"/workorders?number={o.number}", className="wo-link"),
                " ",
                html.A(t("phone_link", lang), href=f"/m/order/{o.number}", className="phone-link"),
            ]),
            t(f"wo_kind_{o.kind.value}", lang),
            t(f"prio_{o.priority.value}", lang),
            t(f"wos_{o.state.value}", lang),
            q.local_time(o.completion_due),
            o.assignee or t("wo_unassigned", lang),
        ]
        for o in orders
    ]  # fmt: skip
    return [table(headers, rows, row_classes=[f"prio-{o.priority.value}" for o in orders])]


def _figure(trend: Trend | None, title: str, lang: str, points: list[PointChoice]) -> go.Figure:
    """The trend chart (dashboards/trends.py) with the points' labels in the page's language."""
    labels = {p.name: p.label_zh if lang == "zh" else p.label_en for p in points}
    units = {p.name: p.unit for p in points}
    return trend_figure(
        trend or Trend(()),
        tz=queries().tz,
        lang=lang,
        labels=labels,
        units=units,
        title=title,
        alarms_label=t("trend_alarms", lang),
        orders_label=t("trend_orders", lang),
        order_events={e: t(f"trend_wo_{e}", lang) for e in ("created", "closed")},
    )


def _timeline(asset_no: str | None, lang: str) -> list[Any]:
    if not asset_no:
        return []
    q = queries()
    try:
        entries = q.timeline(asset_no, current_principal())
    except FacilityError as exc:
        return [banner(f"{t('unavailable', lang)}: {exc}")]
    if not entries:
        return [html.P(t("no_timeline", lang), className="note")]
    headers = [t(k, lang) for k in ("col_at", "col_kind", "col_ref", "col_text", "col_by")]
    rows = [[q.local_time(e.at), e.kind.value, e.ref, e.text, e.actor or ""] for e in entries]
    return [table(headers, rows)]


def layout(lang: str | None = None, asset_no: str | None = None, **_query: str) -> html.Div:
    lang = normalise(lang)
    q = queries()
    principal = current_principal()
    try:
        assets = q.monitored_assets(principal)
    except FacilityError as exc:
        return html.Div(
            [html.H1(t("asset_title", lang)), banner(f"{t('unavailable', lang)}: {exc}")]
        )
    options = [
        {"label": f"{a.asset_no} {a.name_zh if lang == 'zh' else a.name_en}", "value": a.asset_no}
        for a in assets
    ]
    if asset_no is None and assets:
        asset_no = assets[0].asset_no
    elif asset_no is not None and not any(a.asset_no == asset_no for a in assets):
        # another estate's asset (or none): the same answer for both, nothing of it shown
        return html.Div(
            [
                html.H1(t("asset_title", lang)),
                banner(f"{t('unavailable', lang)}: asset {asset_no[:40]}: not found, or not in "
                       "your estates", component_id=ids.HISTORY_BANNER),
            ]
        )  # fmt: skip
    return html.Div(
        [
            html.H1(t("asset_title", lang)),
            dcc.Dropdown(id=ids.ASSET_SELECT, options=options, value=asset_no, clearable=False,
                         className="asset-select"),
            html.Div(_record(asset_no, lang), id=ids.ASSET_RECORD, className="asset-head"),
            html.H2(t("live_title", lang)),
            dcc.Interval(id=ids.ASSET_LIVE_TICK, interval=LIVE_MS),
            dcc.Store(id=ids.ASSET_LIVE_STORE),
            html.Div(id=ids.ASSET_LIVE_RENDERED, hidden=True),
            html.Div(_live(asset_no, lang), id=ids.ASSET_LIVE, className="table-scroll"),
            html.H2(t("asset_orders_title", lang)),
            html.Div(_orders(asset_no, lang), id=ids.ASSET_ORDERS, className="table-scroll"),
            html.Div(
                [
                    dcc.Dropdown(id=ids.POINT_SELECT, placeholder=t("trend_points", lang),
                                 multi=True, clearable=False),
                    dcc.RadioItems(
                        id=ids.RANGE_SELECT,
                        options=[{"label": t(f"range_{r}", lang), "value": r}
                                 for r in ("24h", "7d", "1y")],
                        value=DEFAULT_RANGE,
                        inline=True,
                    ),
                    dcc.Checklist(id=ids.TREND_LIVE, options=[{"label": t("trend_live", lang),
                                                               "value": "live"}],
                                  value=[], inline=True),
                ],
                className="controls",
            ),
            dcc.Interval(id=ids.TREND_TICK, interval=TAIL_MS, disabled=True),
            dcc.Store(id=ids.TREND_TAIL),
            html.Div(id=ids.TREND_RENDERED, hidden=True),
            html.Div(id=ids.HISTORY_BANNER),
            dcc.Graph(id=ids.HISTORY_GRAPH, figure=_figure(None, "", lang, []),
                      config={"displaylogo": False}),
            html.Div(id=ids.HISTORY_NOTE, className="note"),
            html.H2(t("timeline_title", lang)),
            html.Div(_timeline(asset_no, lang), id=ids.TIMELINE, className="table-scroll"),
        ]
    )  # fmt: skip


# the same page without an asset in the path: the menu picks the first one
dash.register_page(__name__ + "_index", path="/asset", name="Assets", order=4, layout=layout)  # type: ignore[no-untyped-call]


def label_pdf(asset_no: str) -> flask.Response:
    """The printable label of an asset in the person's estates (404 otherwise: the same
    answer for "no such asset" and "not yours")."""
    lang = normalise(flask.request.args.get("lang"))
    try:
        asset = queries().asset_record(asset_no.upper(), current_principal())
    except FacilityError:
        flask.abort(404)
    tag = AssetTag(asset.asset_no, asset.name_zh, asset.name_en, page_url(asset.asset_no))
    response = flask.make_response(render_labels_pdf([tag]))
    response.mimetype = "application/pdf"
    name = f"label-{asset.asset_no}.{lang}.pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    return response


def register_callbacks(app: dash.Dash) -> None:
    app.server.add_url_rule(LABEL_ROUTE, "asset_label", label_pdf)

    @app.callback(
        Output(ids.ASSET_RECORD, "children"),
        Output(ids.ASSET_LIVE, "children"),
        Output(ids.ASSET_ORDERS, "children"),
        Input(ids.ASSET_SELECT, "value"),
        State(ids.LANG, "data"),
        prevent_initial_call=True,  # the layout has them for the asset of the address
    )
    def asset_panels(asset_no: str | None, lang: str | None) -> tuple[Any, Any, Any]:
        lang = normalise(lang)
        return _record(asset_no, lang), _live(asset_no, lang), _orders(asset_no, lang)

    @app.callback(
        Output(ids.ASSET_LIVE_STORE, "data"),
        Input(ids.ASSET_LIVE_TICK, "n_intervals"),
        State(ids.ASSET_SELECT, "value"),
        State(ids.LANG, "data"),
        prevent_initial_call=True,
    )
    def live_values(_n: int | None, asset_no: str | None, lang: str | None) -> Any:
        if not asset_no:
            return dash.no_update
        try:
            return queries().asset_live(asset_no, normalise(lang), current_principal())
        except FacilityError:
            return dash.no_update

    # written into the rows the page made (assets/asset_live.js): no row is rebuilt
    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction(namespace="facilityAsset", function_name="renderLive"),
        Output(ids.ASSET_LIVE_RENDERED, "title"),
        Input(ids.ASSET_LIVE_STORE, "data"),
    )

    @app.callback(
        Output(ids.POINT_SELECT, "options"),
        Output(ids.POINT_SELECT, "value"),
        Output(ids.TIMELINE, "children"),
        Input(ids.ASSET_SELECT, "value"),
        State(ids.LANG, "data"),
    )
    def choose_asset(asset_no: str | None, lang: str | None) -> tuple[Any, Any, Any]:
        lang = normalise(lang)
        if not asset_no:
            return [], None, []
        try:
            points = queries().points(asset_no, current_principal())
        except FacilityError:
            points = []
        options = [
            {
                "label": f"{p.label_zh if lang == 'zh' else p.label_en}"
                + (f" ({p.unit})" if p.unit else ""),
                "value": p.name,
            }
            for p in points
        ]
        names = [p.name for p in points]
        key = KEY_POINTS.get(asset_no.split("-")[1], ("", None))[0]
        default = key if key in names else (names[0] if names else None)
        return options, [default] if default else [], _timeline(asset_no, lang)

    app.clientside_callback(  # type: ignore[no-untyped-call]
        "function (live) { return !(live || []).includes('live'); }",
        Output(ids.TREND_TICK, "disabled"),
        Input(ids.TREND_LIVE, "value"),
    )

    @app.callback(
        Output(ids.TREND_TAIL, "data"),
        Input(ids.TREND_TICK, "n_intervals"),
        State(ids.ASSET_SELECT, "value"),
        State(ids.POINT_SELECT, "value"),
        prevent_initial_call=True,
    )
    def tail(_n: int | None, asset_no: str | None, chosen: list[str] | str | None) -> Any:
        points = [chosen] if isinstance(chosen, str) else list(chosen or [])
        if not asset_no or not points:
            return dash.no_update
        try:
            readings = queries().live_tail(asset_no, points[:MAX_TREND_POINTS], current_principal())
        except FacilityError:
            return dash.no_update
        now = queries().clock().astimezone(queries().tz)
        return {"points": readings, "now": now.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]}

    # appended in the browser (Plotly.extendTraces) and the right edge moved to now: the
    # figure is not sent or redrawn each tick
    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction(namespace="facilityTrend", function_name="appendTail"),
        Output(ids.TREND_RENDERED, "title"),
        Input(ids.TREND_TAIL, "data"),
        State(ids.TREND_LIVE, "value"),
    )

    @app.callback(
        Output(ids.HISTORY_GRAPH, "figure"),
        Output(ids.HISTORY_BANNER, "children"),
        Output(ids.HISTORY_NOTE, "children"),
        Input(ids.ASSET_SELECT, "value"),
        Input(ids.POINT_SELECT, "value"),
        Input(ids.RANGE_SELECT, "value"),
        State(ids.LANG, "data"),
    )
    def chart(
        asset_no: str | None,
        chosen: list[str] | str | None,
        range_key: str | None,
        lang: str | None,
    ) -> tuple[go.Figure, Any, str]:
        lang = normalise(lang)
        points = [chosen] if isinstance(chosen, str) else list(chosen or [])
        if not asset_no or not points:
            return _figure(None, "", lang, []), None, ""
        points = points[:MAX_TREND_POINTS]
        title = asset_no
        principal = current_principal()
        try:
            choices = queries().points(asset_no, principal)
            trend = queries().trend(asset_no, points, range_key or DEFAULT_RANGE, principal, lang)
        except FacilityError as exc:
            figure = _figure(None, title, lang, [])
            return figure, banner(f"{t('history_down', lang)} ({exc})"), ""
        # per point: how many values and at which resolution the historian read them
        note = "; ".join(f"{len(s.points)} · {s.plan.label}" for s in trend.series)
        figure = _figure(trend, title, lang, choices)
        if not any(s.points for s in trend.series):
            return figure, banner(t("history_empty", lang), "warn"), note
        return figure, None, note
