"""Work orders (``/workorders``): a phone-width list of open orders; ``?number=WO-...``
shows one order with its checklist."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from dashboards import ids
from dashboards.access import current_principal
from dashboards.components import banner, queries
from dashboards.i18n import normalise, t
from facility.errors import FacilityError
from maintenance.workorders import WorkOrder

dash.register_page(__name__, path="/workorders", name="Work orders", order=2)  # type: ignore[no-untyped-call]


def _title(order: WorkOrder, lang: str) -> str:
    return order.title_zh if lang == "zh" and order.title_zh else order.title_en


def _card(order: WorkOrder, lang: str) -> dcc.Link:
    q = queries()
    assignee = order.assignee or t("wo_unassigned", lang)
    # the one due time everywhere (CLI, sheet, phone): the completion due; ``due_at`` is a
    # plan's slot start and made orders look overdue
    due = q.local_time(order.completion_due)
    return dcc.Link(
        [
            html.Div(order.number, className="wo-number"),
            html.Div(_title(order, lang), className="wo-title"),
            html.Div(
                f"{order.asset_no} · {order.priority.value} · {order.state.value}",
                className="wo-meta",
            ),
            html.Div(
                f"{t('wo_due', lang)} {due} · {t('wo_assignee', lang)}: {assignee}",
                className="wo-meta",
            ),
        ],
        href=f"/workorders?number={order.number}",
        className=f"wo-card prio-{order.priority.value}",
    )


def _detail(number: str, lang: str) -> list[Any]:
    q = queries()
    try:
        order = q.order(number, current_principal())
    except FacilityError as exc:
        return [banner(f"{t('wo_not_found', lang)}: {exc}")]
    items = []
    for line in order.checklist:
        text = line.text_zh if lang == "zh" and line.text_zh else line.text_en
        answer = ""
        if line.passed is not None:
            answer = " ✔" if line.passed else " ✘"
        elif line.value_num is not None:
            answer = f" = {line.value_num:g} {line.unit or ''}"
        elif line.value_text:
            answer = f" = {line.value_text}"
        items.append(html.Li(text + answer))
    return [
        dcc.Link(f"← {t('wo_back', lang)}", href="/workorders"),
        html.Div(
            [
                html.Div(order.number, className="wo-number"),
                html.H2(_title(order, lang)),
                html.Div(
                    f"{order.asset_no} · {order.kind.value} · {order.priority.value} · "
                    f"{order.state.value}",
                    className="wo-meta",
                ),
                html.Div(
                    f"{t('wo_due', lang)} {q.local_time(order.completion_due)} · "
                    f"{t('wo_assignee', lang)}: {order.assignee or t('wo_unassigned', lang)}",
                    className="wo-meta",
                ),
                html.P(order.description) if order.description else None,
                html.A(
                    t("wo_on_phone", lang),
                    href=f"/m/order/{order.number}",
                    id=ids.WO_PHONE_LINK,
                    className="btn",
                ),
                html.H2(t("wo_checklist", lang)),
                html.Ol(items, className="checklist") if items else html.P("—"),
            ],
            className="wo-detail",
        ),
    ]


def layout(lang: str | None = None, number: str | None = None, **_query: str) -> html.Div:
    lang = normalise(lang)
    if number:
        return html.Div(_detail(number, lang), id=ids.WO_DETAIL)
    children: list[Any] = [html.H1(t("wo_title", lang))]
    try:
        orders = queries().open_orders(current_principal())
    except FacilityError as exc:
        children.append(banner(f"{t('unavailable', lang)}: {exc}", component_id=ids.WO_BANNER))
        orders = []
    else:
        if not orders:
            children.append(banner(t("no_orders", lang), "ok", component_id=ids.WO_BANNER))
    children.append(html.Div([_card(o, lang) for o in orders], id=ids.WO_LIST, className="wo-list"))
    return html.Div(children)


def register_callbacks(app: dash.Dash) -> None:
    """Nothing dynamic: the list is read when the page is opened."""
