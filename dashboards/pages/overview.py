"""Overview (``/``): per estate a summary for the wall (alarms by priority, devices out of
communication, stale, without data, open and overdue orders), then the status tiles grouped
by system (water supply, pool, lighting, fire), alarms first.

The tiles are rendered once by ``layout()``; afterwards a 1 s interval fills ONE store with
the snapshot of every tile and summary and a clientside function (assets/facility.js)
rewrites text, colour and order (CSS ``order``: alarms move first) in place — not hundreds
of outputs, no rebuilt components (PITFALLS, Dash). Each tile shows its key values merged
from every poll class, their quality and age; stale and no-data are states of their own.
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

TICK_MS = 1000
SYSTEM_ORDER = ("water_supply", "pool", "lighting", "fire")
SUMMARY_KEYS = (
    ("critical", "prio_critical"),
    ("high", "prio_high"),
    ("medium", "prio_medium"),
    ("low", "prio_low"),
    ("out_of_comm", "sum_out_of_comm"),
    ("stale", "sum_stale"),
    ("nodata", "sum_nodata"),
    ("open_orders", "sum_open_orders"),
    ("overdue", "sum_overdue"),
)
LIVE_LABELS = ("live_down", "live_fresh", "live_old", "live_none", "live_services")


def _tile(asset: Asset, lang: str, state: dict[str, Any] | None) -> dcc.Link:
    name = asset.name_zh if lang == "zh" else asset.name_en
    css = state["css"] if state else "tile-nodata"
    value = state["value"] if state else t("no_data", lang)
    comm = state["comm"] if state else BAD
    age = state.get("age", "") if state else ""
    order = state.get("order", 9) if state else 9
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
            html.Div(
                [
                    html.Span(comm, id=ids.tile_comm(asset.asset_no), className="tile-comm"),
                    html.Span(age, id=ids.tile_age(asset.asset_no), className="tile-age"),
                ],
                className="tile-foot",
            ),
        ],
        id=ids.tile(asset.asset_no),
        href=f"/asset/{asset.asset_no}",
        className=f"tile {css}",
        style={"order": order},
    )


def _summary(site: str, counts: dict[str, int], lang: str) -> html.Div:
    """An estate's figures for the wall: each rewritten in place by the renderer."""
    cells = []
    for key, label in SUMMARY_KEYS:
        value = counts.get(key, 0)
        cells.append(
            html.Div(
                [
                    html.Span(str(value), id=ids.summary_cell(site, key), className="sum-value"),
                    html.Span(t(label, lang), className="sum-label"),
                ],
                className=f"sum-cell sum-{key}" + (" sum-hot" if value else ""),
            )
        )
    return html.Div(cells, className="summary")


def _systems(site_assets: list[Asset], lang: str, tiles: dict[str, Any]) -> list[html.Div]:
    by_system: dict[str, list[Asset]] = {}
    for asset in site_assets:
        by_system.setdefault(asset.system or "other", []).append(asset)
    ordered = sorted(
        by_system, key=lambda s: (SYSTEM_ORDER.index(s) if s in SYSTEM_ORDER else 99, s)
    )
    groups = []
    for system in ordered:
        members = sorted(
            by_system[system],
            key=lambda a: (tiles.get(a.asset_no, {}).get("order", 9), a.asset_no),
        )
        groups.append(
            html.Div(
                [
                    html.H3([t(f"sys_{system}", lang), html.Small(f" {len(members)}")]),
                    html.Div(
                        [_tile(a, lang, tiles.get(a.asset_no)) for a in members],
                        className="tile-grid",
                    ),
                ],
                className=f"system-group system-{system}",
            )
        )
    return groups


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
                    _summary(site.code, snapshot.get("summary", {}).get(site.code, {}), lang),
                    *_systems(site_assets, lang, snapshot["tiles"]),
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
