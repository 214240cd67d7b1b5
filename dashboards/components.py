"""Small building blocks shared by the pages: the query layer of the running app, banners,
plain tables, and the header's alarm counter (every page) with its tone for new critical
alarms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, dcc, html

from dashboards import ids
from dashboards.access import current_principal
from dashboards.queries import Queries
from facility.types import PRIORITY_ORDER

COUNTER_TICK_MS = 2000

QUERIES_KEY = "FACILITY_QUERIES"


def queries() -> Queries:
    """The query layer of the app serving this request (set by ``create_app``)."""
    app = dash.get_app()  # type: ignore[no-untyped-call]
    found: Queries = app.server.config[QUERIES_KEY]
    return found


def banner(text: str, kind: str = "error", component_id: str | None = None) -> html.Div:
    """A one-line message over a panel: ``error`` (red), ``warn`` or ``ok``."""
    props: dict[str, Any] = {"className": f"banner banner-{kind}", "role": "status"}
    if component_id is not None:
        props["id"] = component_id
    return html.Div(text, **props)


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    row_classes: Sequence[str] | None = None,
    class_name: str = "grid-table",
) -> html.Table:
    """A plain HTML table (cells may be text or components)."""
    body = []
    for i, row in enumerate(rows):
        css = row_classes[i] if row_classes is not None else ""
        body.append(html.Tr([html.Td(cell) for cell in row], className=css))
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in headers])), html.Tbody(body)],
        className=class_name,
    )


def alarm_counter() -> list[Any]:
    """The header's counter of standing alarms by priority (a link to the console), the
    button that silences the tone, and the store and tick that feed them. The tone sounds
    for a new unacknowledged critical alarm until silenced here — silencing is not
    acknowledging, and acknowledging elsewhere is not needed to silence."""
    cells = [
        html.Span("0", id=ids.counter(p), className=f"counter counter-{p}", title=p)
        for p in PRIORITY_ORDER
    ]
    return [
        dcc.Link(cells, href="/alarms", id=ids.ALARM_COUNTER, className="alarm-counter"),
        # a drawn speaker (style.css), not the 🔕 emoji: a desk PC without an emoji font
        # showed an empty box
        html.Button(
            "",
            id=ids.TONE_SILENCE,
            className="tone-silence",
            hidden=True,
            title="Silence · 消音",
            **{"aria-label": "Silence · 消音"},
        ),
        dcc.Store(id=ids.COUNTER_STORE),
        dcc.Interval(id=ids.COUNTER_TICK, interval=COUNTER_TICK_MS),
        html.Div(id=ids.COUNTER_RENDERED, hidden=True),
    ]


def register_counter_callbacks(app: dash.Dash) -> None:
    """The counter's server callback (counts in the person's estates) and its renderer."""

    @app.callback(Output(ids.COUNTER_STORE, "data"), Input(ids.COUNTER_TICK, "n_intervals"))
    def count(_n: int | None) -> dict[str, Any]:
        return queries().alarm_counter(current_principal())

    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction(namespace="facility", function_name="renderCounter"),
        Output(ids.COUNTER_RENDERED, "title"),
        Input(ids.COUNTER_STORE, "data"),
    )
