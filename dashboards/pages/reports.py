"""Reports (``/reports``): the stored daily sheets, weekly and monthly reports of the estates
the signed-in person may see, newest first, each a download link.

Downloads are a plain Flask route, ``/reports/file/<site>/<kind>/<period>.<lang>.<fmt>``,
behind the same gate as the pages (``access.PAGE_PERMISSIONS["/reports"]``: REPORTS); the
route checks the estate scope too (the company's reports, ``ALL``, need every estate) and
writes each download, and each refusal, to the audit trail.
"""

from __future__ import annotations

from typing import Any

import dash
import flask
from dash import html

from dashboards import auth, ids
from dashboards.access import current_principal
from dashboards.components import banner, queries, table
from dashboards.i18n import normalise, t
from facility.errors import FacilityError
from maintenance.identity.roles import ALL_SITES, Permission, Principal, Source
from maintenance.reports import store

dash.register_page(__name__, path="/reports", name="Reports", order=6)  # type: ignore[no-untyped-call]

FILE_ROUTE = "/reports/file/<site>/<kind>/<name>"
MIME = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def may_read(principal: Principal, site: str) -> bool:
    """REPORTS on ``site``; the company's reports (ALL) need every estate in scope."""
    if site == "ALL":
        return principal.can(Permission.REPORTS) and ALL_SITES in principal.sites
    return principal.can(Permission.REPORTS, site)


def file_url(report: store.StoredReport) -> str:
    return f"/reports/file/{report.site}/{report.kind}/{report.path.name}"


def layout(lang: str | None = None, **_query: str) -> html.Div:
    lang = normalise(lang)
    children: list[Any] = [html.H1(t("reports_title", lang))]
    try:
        principal = current_principal()
        var_dir = queries().settings.paths.var_dir
        found = [r for r in store.stored(var_dir) if may_read(principal, r.site)]
    except FacilityError as exc:
        children.append(banner(f"{t('unavailable', lang)}: {exc}"))
        return html.Div(children)
    if not found:
        children.append(html.P(t("reports_none", lang), className="note"))
        return html.Div(children, id=ids.REPORTS_TABLE)
    headers = [t(k, lang) for k in ("col_site", "reports_kind", "col_period", "reports_file")]
    rows = [
        [r.site, t(f"reports_{r.kind}", lang), r.period,
         html.A(f"{r.lang}.{r.fmt} ({r.size // 1024 or 1} KB)", href=file_url(r),
                className="report-link")]
        for r in found
    ]  # fmt: skip
    children.append(html.Div(table(headers, rows), id=ids.REPORTS_TABLE, className="table-scroll"))
    return html.Div(children)


def download(site: str, kind: str, name: str) -> flask.Response:
    """One stored report, if the signed-in person may read it (audited either way)."""
    principal = current_principal()
    gate = auth.gate()
    entity = f"report:{site}/{kind}/{name}"
    if not may_read(principal, site):
        gate.refuse(principal, entity, f"needs {Permission.REPORTS.value} on {site}", 403)
        flask.abort(403)
    match = store.NAME.match(name)
    if kind not in store.KIND_FOLDERS or not match or not site.isalnum():
        flask.abort(404)
    path = store.report_path(
        queries().settings.paths.var_dir, site, kind, match["period"], match["lang"], match["fmt"]
    )
    if not path.is_file():
        flask.abort(404)
    gate.store.audit(
        principal, "report_download", entity, {"bytes": path.stat().st_size},
        source=Source.DASHBOARD, remote=flask.request.remote_addr,
    )  # fmt: skip
    return flask.send_file(path, mimetype=MIME[match["fmt"]], as_attachment=True,
                           download_name=f"{site}-{kind}-{name}")  # fmt: skip


def register_callbacks(app: dash.Dash) -> None:
    """The download route (the page itself is computed when opened)."""
    app.server.add_url_rule(FILE_ROUTE, "report_file", download)
