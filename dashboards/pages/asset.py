"""Asset (``/asset/<asset_no>``, or ``/asset`` with a menu): a history chart of one point
over 24 h / 7 d / 1 y (``History.series`` picks raw, 1-minute or 1-hour data) and the
asset's timeline of work orders, alarms, meter readings and status changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html

from dashboards import ids
from dashboards.access import current_principal
from dashboards.components import banner, queries, table
from dashboards.i18n import normalise, t
from dashboards.tiles import KEY_POINTS
from facility.errors import FacilityError
from gateway.history import PointKind, Series

dash.register_page(__name__, path_template="/asset/<asset_no>", name="Asset", order=3)  # type: ignore[no-untyped-call]

DEFAULT_RANGE = "24h"


def _figure(series: Series | None, title: str) -> go.Figure:
    figure = go.Figure()
    if series is not None and series.points:
        # site time on the axis: "this morning" at Huating, not in UTC
        tz = queries().tz
        times = [
            datetime.fromtimestamp(p.ts_ms / 1000, tz=UTC).astimezone(tz) for p in series.points
        ]
        values = [p.value if not isinstance(p.value, str) else None for p in series.points]
        if series.kind is PointKind.ANALOG and any(p.low is not None for p in series.points):
            figure.add_trace(
                go.Scatter(
                    x=times + times[::-1],
                    y=[p.high for p in series.points] + [p.low for p in series.points][::-1],
                    fill="toself",
                    fillcolor="rgba(59,125,216,0.15)",
                    line={"width": 0},
                    hoverinfo="skip",
                    name="min–max",
                )
            )
        figure.add_trace(
            go.Scatter(
                x=times,
                y=values,
                mode="lines",
                line={
                    "color": "#1d3557",
                    "shape": "hv" if series.kind is PointKind.STATE else None,
                },
                name=series.point,
                connectgaps=False,
            )
        )
    figure.update_layout(
        title=title,
        margin={"l": 50, "r": 20, "t": 40, "b": 40},
        height=380,
        showlegend=False,
        template="plotly_white",
    )
    return figure


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
            html.Div(
                [
                    dcc.Dropdown(id=ids.ASSET_SELECT, options=options, value=asset_no,
                                 clearable=False),
                    dcc.Dropdown(id=ids.POINT_SELECT, placeholder=t("point", lang),
                                 clearable=False),
                    dcc.RadioItems(
                        id=ids.RANGE_SELECT,
                        options=[{"label": t(f"range_{r}", lang), "value": r}
                                 for r in ("24h", "7d", "1y")],
                        value=DEFAULT_RANGE,
                        inline=True,
                    ),
                ],
                className="controls",
            ),
            html.Div(id=ids.HISTORY_BANNER),
            dcc.Graph(id=ids.HISTORY_GRAPH, figure=_figure(None, ""),
                      config={"displaylogo": False}),
            html.Div(id=ids.HISTORY_NOTE, className="note"),
            html.H2(t("timeline_title", lang)),
            html.Div(_timeline(asset_no, lang), id=ids.TIMELINE),
        ]
    )  # fmt: skip


# the same page without an asset in the path: the menu picks the first one
dash.register_page(__name__ + "_index", path="/asset", name="Assets", order=4, layout=layout)  # type: ignore[no-untyped-call]


def register_callbacks(app: dash.Dash) -> None:
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
        return options, default, _timeline(asset_no, lang)

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
        asset_no: str | None, point: str | None, range_key: str | None, lang: str | None
    ) -> tuple[go.Figure, Any, str]:
        lang = normalise(lang)
        if not asset_no or not point:
            return _figure(None, ""), None, ""
        title = f"{asset_no} · {point}"
        try:
            series = queries().series(
                asset_no, point, range_key or DEFAULT_RANGE, current_principal()
            )
        except FacilityError as exc:
            return _figure(None, title), banner(f"{t('history_down', lang)} ({exc})"), ""
        note = f"{len(series.points)} · {series.plan.label}"
        if not series.points:
            return _figure(series, title), banner(t("history_empty", lang), "warn"), note
        return _figure(series, title), None, note
