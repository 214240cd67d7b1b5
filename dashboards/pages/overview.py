"""Overview (``/``): per estate a summary for the wall (alarms by priority, devices out of
communication, stale, without data, open and overdue orders), then the status tiles grouped
by system (water supply, pool, lighting, fire), alarms first.

``layout()`` renders the estates, summaries and one empty grid per system, with the tiles'
fixed parts (asset, class, name, grid) in a store; a clientside function (assets/facility.js)
makes the tiles once as plain DOM and afterwards a 1 s interval fills ONE store with the
snapshot of every tile and summary, from which the same function rewrites text, colour and
order (CSS ``order``: alarms move first) in place — no per-tile outputs, and no per-tile Dash
components (PITFALLS, Dash; 500 tiles as components kept the browser 99 % busy). Each tile
shows its key values merged from every poll class, their quality and age; stale and no-data
are states of their own.

An estate with a site plan (``dashboards/plans.py``: a drawing and a pins file in the plans
folder) gets a Tiles / Site plan toggle: the plan is the drawing as an image with a pin per
device over it, coloured by the tile's state (same ISA-101 classes) and updated in place from
the same store each tick (assets/plan.js); a pin is a link to the asset page. The choice is
kept per estate in the browser. An estate without a plan shows only its tiles.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State, dcc, html

from dashboards import ids
from dashboards.access import current_principal
from dashboards.components import banner, queries
from dashboards.i18n import normalise, t
from dashboards.plans import SitePlan
from dashboards.tiles import ServiceProblem, live_banner
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


def _systems(
    site: str, site_assets: list[Asset], lang: str, meta: list[list[str]]
) -> list[html.Div]:
    """The system groups of an estate: a heading and an empty grid each. The tiles are made
    and updated by the clientside renderer from ``meta`` (asset, class, name, grid id):
    500 tiles as Dash components are ~4,500 components, and the Dash renderer walked them all
    on every tick (99 % of the browser's main thread busy at a 1 s tick)."""
    by_system: dict[str, list[Asset]] = {}
    for asset in site_assets:
        by_system.setdefault(asset.system or "other", []).append(asset)
    ordered = sorted(
        by_system, key=lambda s: (SYSTEM_ORDER.index(s) if s in SYSTEM_ORDER else 99, s)
    )
    groups = []
    for system in ordered:
        members = by_system[system]
        grid = ids.tile_group(site, system)
        meta += [
            [a.asset_no, a.device_class.value, a.name_zh if lang == "zh" else a.name_en, grid]
            for a in members
        ]
        groups.append(
            html.Div(
                [
                    html.H3([t(f"sys_{system}", lang), html.Small(f" {len(members)}")]),
                    html.Div(id=grid, className="tile-grid"),
                ],
                className=f"system-group system-{system}",
            )
        )
    return groups


def _view_button(site: str, view: str, lang: str) -> html.Button:
    """One side of an estate's Tiles / Site plan toggle (handled in the browser, plan.js)."""
    attributes: dict[str, Any] = {
        "data-site": site,
        "data-view": view,
        "aria-pressed": "true" if view == "tiles" else "false",
    }
    return html.Button(
        t(f"view_{view}", lang), id=ids.plan_toggle(site, view), className="view-btn", **attributes
    )


def _plan(
    site: str, site_name: str, site_assets: list[Asset], lang: str, pins: dict[str, Any]
) -> tuple[list[Any], Any]:
    """An estate's Tiles / Site plan toggle and its plan panel (hidden until chosen); no
    toggle and no panel when the estate has no plan. The pins (those of its monitored
    devices) go to ``pins`` for the clientside renderer."""
    plan: SitePlan | None = None
    problem = ""
    try:
        plan = queries().site_plan(site)
    except FacilityError as exc:
        problem = str(exc)
    if plan is None and not problem:
        return [], None
    toggle = [_view_button(site, view, lang) for view in ("tiles", "plan")]
    if plan is None:
        panel = html.Div(
            banner(f"{t('plan_unavailable', lang)}: {problem}"),
            id=ids.site_plan(site),
            className="site-plan",
            hidden=True,
        )
        return [html.Div(toggle, className="view-toggle")], panel
    names = {a.asset_no: a.name_zh if lang == "zh" else a.name_en for a in site_assets}
    pins[site] = [
        [p.asset_no, p.left_pct, p.top_pct, names[p.asset_no]]
        for p in plan.pins
        if p.asset_no in names
    ]
    panel = html.Div(
        html.Div(
            [
                html.Img(
                    src=plan.image_url,
                    alt=t("plan_alt", lang).format(site=site_name),
                    className="plan-image",
                ),
                html.Div(id=ids.plan_pins(site), className="plan-pins"),
            ],
            className="plan-frame",
            style={"aspectRatio": f"{plan.width:g} / {plan.height:g}"},
        ),
        id=ids.site_plan(site),
        className="site-plan",
        hidden=True,
    )
    return [html.Div(toggle, className="view-toggle")], panel


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
    meta: list[list[str]] = []
    pins: dict[str, Any] = {}
    for site in sites:
        site_assets = [a for a in assets if a.site == site.code]
        if not site_assets:
            continue
        site_name = site.name_zh if lang == "zh" else site.name_en
        title = f"{site_name} ({site.code})"
        toggle, plan = _plan(site.code, site_name, site_assets, lang, pins)
        sections.append(
            html.Section(
                [
                    html.Div(
                        [
                            html.H2(
                                [title, html.Small(f" {len(site_assets)} {t('devices', lang)}")]
                            ),
                            *toggle,
                        ],
                        className="site-head",
                    ),
                    _summary(site.code, snapshot.get("summary", {}).get(site.code, {}), lang),
                    html.Div(
                        _systems(site.code, site_assets, lang, meta), id=ids.site_tiles(site.code)
                    ),
                    *([plan] if plan is not None else []),
                ],
                className="site-section",
            )
        )
    children += [
        html.Div(sections, id=ids.TILE_GRID),
        dcc.Store(id=ids.TILE_META, data={"tiles": meta, "no_data": t("no_data", lang)}),
        dcc.Store(id=ids.PLAN_META, data={"pins": pins}),
        dcc.Store(id=ids.LIVE_STORE, data=_with_banner(snapshot, lang)),
        dcc.Interval(id=ids.LIVE_TICK, interval=TICK_MS),
        html.Div(id=ids.LIVE_RENDERED, hidden=True),
        html.Div(id=ids.PLAN_RENDERED, hidden=True),
    ]
    return html.Div(children)


def _with_banner(snapshot: dict[str, Any], lang: str) -> dict[str, Any]:
    """The snapshot with its banner's text and kind, for the clientside renderer: a changed
    ``children`` output makes Dash re-walk the page's whole layout (thousands of components
    with 500 tiles), a text written by the renderer does not."""
    status = _status(snapshot, lang)
    snapshot["banner"] = {"text": status.children, "css": getattr(status, "className", "")}
    return snapshot


def register_callbacks(app: dash.Dash) -> None:
    @app.callback(
        Output(ids.LIVE_STORE, "data"),
        Input(ids.LIVE_TICK, "n_intervals"),
        State(ids.LANG, "data"),
        prevent_initial_call=True,
    )
    def refresh(_n: int | None, lang: str | None) -> dict[str, Any]:
        lang = normalise(lang)
        return _with_banner(queries().live_tiles(lang, current_principal()), lang)

    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction(namespace="facility", function_name="renderTiles"),
        Output(ids.LIVE_RENDERED, "title"),
        Input(ids.LIVE_STORE, "data"),
        State(ids.TILE_META, "data"),
    )
    # the pins read the same store: a second renderer (assets/plan.js), same tick
    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction(namespace="facilityPlan", function_name="renderPins"),
        Output(ids.PLAN_RENDERED, "title"),
        Input(ids.LIVE_STORE, "data"),
        State(ids.PLAN_META, "data"),
    )
