"""Small building blocks shared by the pages: the query layer of the running app, banners
and plain tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash
from dash import html

from dashboards.queries import Queries

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
