"""Work orders (``/workorders``): the open orders of the person's estates as cards (a column
on a phone, a grid on a desk), with counts and filters as plain links — ``?site=HT``,
``?priority=critical``, ``?due=overdue``, ``?who=unassigned``, combined, bookmarkable, in
pages of ``PAGE_SIZE`` cards (``&page=2``); ``?number=WO-...`` shows one order with its
checklist."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import dash
from dash import dcc, html

from dashboards import ids
from dashboards.access import current_principal
from dashboards.components import banner, queries
from dashboards.i18n import normalise, t
from dashboards.wo_filters import Page, chosen_filters, overdue, page_of, select
from facility.errors import FacilityError
from facility.types import Priority
from maintenance.workorders import WorkOrder

dash.register_page(__name__, path="/workorders", name="Work orders", order=2)  # type: ignore[no-untyped-call]


def _title(order: WorkOrder, lang: str) -> str:
    return order.title_zh if lang == "zh" and order.title_zh else order.title_en


def _card(order: WorkOrder, lang: str, now: datetime) -> dcc.Link:
    q = queries()
    assignee = order.assignee or t("wo_unassigned", lang)
    late = overdue(order, now)
    due = html.Span(
        f"{t('wo_due', lang)} {q.local_time(order.completion_due)}"
        + (f" · {t('wo_overdue', lang)}" if late else ""),
        className="wo-overdue" if late else None,
    )
    return dcc.Link(
        [
            html.Div(order.number, className="wo-number"),
            html.Div(_title(order, lang), className="wo-title"),
            html.Div(
                f"{order.asset_no} · {t(f'prio_{order.priority.value}', lang)} · "
                f"{t(f'wos_{order.state.value}', lang)}",
                className="wo-meta",
            ),
            html.Div([due, f" · {t('wo_assignee', lang)}: {assignee}"], className="wo-meta"),
        ],
        href=f"/workorders?number={order.number}",
        className=f"wo-card prio-{order.priority.value}" + (" wo-card-overdue" if late else ""),
    )


def _chip(label: str, count: int, key: str, value: str, chosen: dict[str, str]) -> dcc.Link:
    """A filter as a link that turns it on (or off, when it is on), keeping the others."""
    on = chosen.get(key) == value
    query = {k: v for k, v in chosen.items() if k != key}
    if not on:
        query[key] = value
    return dcc.Link(
        [label, html.B(f" {count}")],
        href="/workorders" + (f"?{urlencode(sorted(query.items()))}" if query else ""),
        className="wo-chip wo-chip-on" if on else "wo-chip",
        id=ids.wo_filter(key, value),
    )


def _filters(orders: list[WorkOrder], chosen: dict[str, str], now: datetime, lang: str) -> html.Div:
    """Counts of the open orders, each a filter; counted within the other chosen filters."""

    def count(key: str, value: str) -> int:
        return len(select(orders, {**chosen, key: value}, now))

    chips: list[Any] = []
    sites = sorted({o.site for o in orders})
    if len(sites) > 1:
        chips += [_chip(site, count("site", site), "site", site, chosen) for site in sites]
    chips += [
        _chip(t(f"prio_{p.value}", lang), count("priority", p.value), "priority", p.value, chosen)
        for p in Priority
    ]
    chips.append(_chip(t("wo_overdue", lang), count("due", "overdue"), "due", "overdue", chosen))
    chips.append(
        _chip(t("wo_unassigned", lang), count("who", "unassigned"), "who", "unassigned", chosen)
    )
    return html.Div(chips, id=ids.WO_FILTERS, className="wo-filters")


def _pager(page: Page, chosen: dict[str, str], lang: str, where: str) -> html.Div:
    """ "61–120 of 130" with links to the pages before and after, the filters kept (above the
    cards, ``where="top"``, and below them)."""

    def link(number: int, label: str, component_id: str) -> dcc.Link:
        query = sorted({**chosen, **({"page": str(number)} if number > 1 else {})}.items())
        return dcc.Link(
            label,
            href="/workorders" + (f"?{urlencode(query)}" if query else ""),
            id=component_id,
            className="wo-chip",
        )

    parts: list[Any] = []
    if page.number > 1:
        parts.append(
            link(page.number - 1, f"← {t('wo_page_prev', lang)}", ids.wo_page("prev", where))
        )
    parts.append(
        html.Span(
            t("wo_page_range", lang).format(first=page.first, last=page.last, total=page.total),
            id=ids.wo_page("range", where),
        )
    )
    if page.number < page.pages:
        parts.append(
            link(page.number + 1, f"{t('wo_page_next', lang)} →", ids.wo_page("next", where))
        )
    return html.Div(parts, className="wo-pager")


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


def layout(
    lang: str | None = None, number: str | None = None, page: object = None, **query: str
) -> html.Div:
    lang = normalise(lang)
    if number:
        return html.Div(_detail(number, lang), id=ids.WO_DETAIL)
    q = queries()
    now = q.clock()
    chosen = chosen_filters(query)
    children: list[Any] = []
    try:
        orders = q.open_orders(current_principal())
    except FacilityError as exc:
        children.append(html.H1(t("wo_title", lang)))
        children.append(banner(f"{t('unavailable', lang)}: {exc}", component_id=ids.WO_BANNER))
        children.append(html.Div([], id=ids.WO_LIST, className="wo-list"))
        return html.Div(children)
    shown = select(orders, chosen, now)
    children.append(html.H1(f"{t('wo_title', lang)} · {len(shown)}"))
    children.append(_filters(orders, chosen, now, lang))
    if not shown:
        children.append(banner(t("no_orders", lang), "ok", component_id=ids.WO_BANNER))
    one = page_of(shown, page)
    paged = one.pages > 1
    if paged:
        children.append(_pager(one, chosen, lang, "top"))
    cards = [_card(o, lang, now) for o in one.orders]
    children.append(html.Div(cards, id=ids.WO_LIST, className="wo-list"))
    if paged:
        children.append(_pager(one, chosen, lang, "bottom"))
    return html.Div(children)


def register_callbacks(app: dash.Dash) -> None:
    """Nothing dynamic: the list is read when the page is opened."""
