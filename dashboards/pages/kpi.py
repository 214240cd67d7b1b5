"""KPIs (``/kpi``): this month's PM compliance, repair timeliness against the target, MTTR,
MTBF and availability per estate — as ``maintenance.kpi.report`` computes them."""

from __future__ import annotations

from typing import Any

import dash
from dash import html

from dashboards import ids
from dashboards.access import current_principal
from dashboards.components import banner, queries, table
from dashboards.i18n import normalise, t
from facility.errors import FacilityError

dash.register_page(__name__, path="/kpi", name="KPIs", order=5)  # type: ignore[no-untyped-call]


def layout(lang: str | None = None, **_query: str) -> html.Div:
    lang = normalise(lang)
    q = queries()
    target = q.timeliness_target
    children: list[Any] = [
        html.H1(t("kpi_title", lang)),
        html.P(f"{t('kpi_target', lang)}: {target:.0%}", className="note"),
    ]
    try:
        # the gate refuses the page already; refusing here too keeps it so if one is missed
        principal = current_principal()
        rows = q.month_kpis(principal)
        names = {s.code: (s.name_zh if lang == "zh" else s.name_en) for s in q.sites(principal)}
    except FacilityError as exc:
        children.append(banner(f"{t('unavailable', lang)}: {exc}", component_id=ids.KPI_BANNER))
        return html.Div(children)
    headers = [
        t(k, lang)
        for k in (
            "col_site", "col_period", "col_pm", "col_timeliness", "col_mttr", "col_mtbf",
            "col_avail",
        )
    ]  # fmt: skip
    body = []
    for row in rows:
        meets = row.meets(target)
        timeliness: Any = row.repair_timeliness.text()
        if meets is not None:
            timeliness = html.Span(
                timeliness + ("" if meets else f" ({t('below_target', lang)})"),
                className="kpi-good" if meets else "kpi-bad",
            )
        body.append(
            [
                f"{names.get(row.site, row.site)} ({row.site})",
                row.period,
                row.pm_compliance.text(),
                timeliness,
                "-" if row.mttr_h is None else f"{row.mttr_h:.1f}",
                "-" if row.mtbf_h is None else f"{row.mtbf_h:.0f}",
                "-" if row.availability is None else f"{row.availability:.2%}",
            ]
        )
    children.append(html.Div(table(headers, body), id=ids.KPI_TABLE, className="table-scroll"))
    return html.Div(children)


def register_callbacks(app: dash.Dash) -> None:
    """Nothing dynamic: the report is computed when the page is opened."""
