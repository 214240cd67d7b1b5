"""Overview (``/``): per estate, a grid of status tiles, one per monitored device.

The tiles are rendered once by ``layout()``; afterwards a 2 s interval fills ONE store with
the snapshot of every tile and a clientside function (assets/facility.js) rewrites the tiles'
text and colour in place — not hundreds of outputs, no rebuilt components (PITFALLS, Dash).
"""

from __future__ import annotations

from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State, dcc, html

from dashboards import ids
from dashboards.access import current_principal
from dashboards.components import banner, queries
from dashboards.i18n import normalise, t
from dashboards.tiles import BAD, ServiceProblem, live_banner
from facility.errors import FacilityError
from facility.types import Asset

dash.register_page(__name__, path="/", name="Overview", order=0)  # type: ignore[no-untyped-call]

TICK_MS = 2000
LIVE_LABELS = ("live_down", "live_fresh", "live_old", "live_none", "live_services")


def _tile(asset: Asset, lang: str, state: dict[str, Any] | None) -> dcc.Link:
    name = asset.name_zh if lang == "zh" else asset.name_en
    css = state["css"] if state else "tile-nodata"
    value = state["value"] if state else t("no_data", lang)
    comm = state["comm"] if state else BAD
    return dcc.Link(
        [
            html.Div(
                [
                    html.Span(asset.device_class.value, className="tile-class"),
                    html.Span(asset.asset_no, className="tile-asset"),
                ],
                className="tile-head",
            ),
            html.Div(name, className="tile-name", title=name),
            html.Div(value, id=ids.tile_value(asset.asset_no), className="tile-value"),
            html.Div(comm, id=ids.tile_comm(asset.asset_no), className="tile-comm"),
        ],
        id=ids.tile(asset.asset_no),
        href=f"/asset/{asset.asset_no}",
        className=f"tile {css}",
    )


def _status(snapshot: dict[str, Any], lang: str) -> html.Div:
    """The banner: broker link, age of the newest reading, services not working."""
    labels = {k: t(k, lang) for k in LIVE_LABELS}
    if not snapshot["connected"]:
        detail = queries().live.last_error
        labels["live_down"] += f" ({detail})" if detail else ""
    problems = [
        ServiceProblem(p["kind"], p["id"], p["health"], p["reason"])
        for p in snapshot.get("services", [])
    ]
    text, kind = live_banner(
        snapshot["connected"],
        snapshot.get("newest_age_s"),
        snapshot.get("stale_after_s", 60.0),
        problems,
        labels,
    )
    return banner(text, kind)


def layout(lang: str | None = None, **_query: str) -> html.Div:
    lang = normalise(lang)
    q = queries()
    principal = current_principal()
    children: list[Any] = [html.H1(t("overview_title", lang))]
    snapshot = q.live_tiles(lang, principal)
    children.append(html.Div(_status(snapshot, lang), id=ids.LIVE_STATUS))
    try:
        sites = q.sites(principal)
        assets = q.monitored_assets(principal)
    except FacilityError as exc:
        children.append(banner(f"{t('unavailable', lang)}: {exc}"))
        sites, assets = [], []
    sections = []
    for site in sites:
        site_assets = [a for a in assets if a.site == site.code]
        if not site_assets:
            continue
        title = f"{site.name_zh if lang == 'zh' else site.name_en} ({site.code})"
        sections.append(
            html.Section(
                [
                    html.H2([title, html.Small(f" {len(site_assets)} {t('devices', lang)}")]),
                    html.Div(
                        [_tile(a, lang, snapshot["tiles"].get(a.asset_no)) for a in site_assets],
                        className="tile-grid",
                    ),
                ],
                className="site-section",
            )
        )
    children += [
        html.Div(sections, id=ids.TILE_GRID),
        dcc.Store(id=ids.LIVE_STORE, data=snapshot),
        dcc.Interval(id=ids.LIVE_TICK, interval=TICK_MS),
        html.Div(id=ids.LIVE_RENDERED, hidden=True),
    ]
    return html.Div(children)


def register_callbacks(app: dash.Dash) -> None:
    @app.callback(
        Output(ids.LIVE_STORE, "data"),
        Output(ids.LIVE_STATUS, "children"),
        Input(ids.LIVE_TICK, "n_intervals"),
        State(ids.LANG, "data"),
        prevent_initial_call=True,
    )
    def refresh(_n: int | None, lang: str | None) -> tuple[dict[str, Any], html.Div]:
        lang = normalise(lang)
        snapshot = queries().live_tiles(lang, current_principal())
        return snapshot, _status(snapshot, lang)

    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction(namespace="facility", function_name="renderTiles"),
        Output(ids.LIVE_RENDERED, "children"),
        Input(ids.LIVE_STORE, "data"),
    )
