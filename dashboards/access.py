"""Who may run which callback and open which page of the dashboard (pure, but for
``current_principal``).

The server is the check: ``dashboards.auth``'s request hook looks every
``/_dash-update-component`` request up in ``CALLBACK_PERMISSIONS`` by its ``output`` (the key
Dash itself uses in ``app.callback_map``) and every page request in ``page_permission``. A
callback that is not in the table is refused, so a new callback without an entry is refused
until someone decides who may run it (tests/unit/test_dashboard_access.py checks the table
against the app's callback map). Hiding a button is a courtesy, never the permission.
"""

from __future__ import annotations

import flask

from dashboards import ids
from facility.errors import AuthError
from maintenance.identity.roles import Permission, Principal

# Dash's own components of the pages machinery (dash._pages): the page container and the
# store whose data sets the title; their ids are Dash's, not ours.
PAGES_CONTENT = "_pages_content"
PAGES_STORE = "_pages_store"
PAGES_DUMMY = "_pages_dummy"
PAGES_LOCATION = "_pages_location"


def outputs_key(*outputs: tuple[str, str]) -> str:
    """The key Dash gives a callback with these ``(component id, property)`` outputs:
    ``id.prop`` for one, ``..a.p...b.q..`` for several (the request body's ``output``)."""
    parts = [f"{component}.{prop}" for component, prop in outputs]
    if len(parts) == 1:
        return parts[0]
    return ".." + "...".join(parts) + ".."


#: The page router: opening a page runs it; which page is checked by ``page_permission``.
ROUTER = outputs_key((PAGES_CONTENT, "children"), (PAGES_STORE, "data"))

#: Output key → permission; None: a clientside callback, which runs in the browser and is
#: refused if it is ever asked of the server.
CALLBACK_PERMISSIONS: dict[str, Permission | None] = {
    # the shell: language and the header's labels
    outputs_key((ids.LANG, "data")): Permission.VIEW,
    outputs_key(
        (ids.TITLE, "children"),
        (ids.LANG_TOGGLE, "children"),
        (ids.MENU_BUTTON, "children"),
        *[(ids.nav_link(page), "children") for page in ids.PAGES],
    ): Permission.VIEW,
    ROUTER: Permission.VIEW,
    outputs_key((PAGES_DUMMY, "children")): None,  # clientside: sets the page title
    # overview
    outputs_key((ids.LIVE_STORE, "data")): Permission.VIEW,
    outputs_key((ids.LIVE_RENDERED, "title")): None,  # clientside: the tile renderer
    outputs_key((ids.PLAN_RENDERED, "title")): None,  # clientside: the site plans' pins
    # the header's alarm counter (every page) and its tone
    outputs_key((ids.COUNTER_STORE, "data")): Permission.VIEW,
    outputs_key((ids.COUNTER_RENDERED, "title")): None,  # clientside: counter and tone
    # the alarm console: rows, views, journal; each action needs its own permission
    outputs_key(
        (ids.CONSOLE_STORE, "data"), (ids.CONSOLE_VERSION, "data"), (ids.ALARM_BANNER, "children")
    ): Permission.VIEW,
    outputs_key((ids.CONSOLE_RENDERED, "title")): None,  # clientside: the row renderer
    outputs_key(
        (ids.CONSOLE_PANEL, "style"), (ids.JOURNAL_PANEL, "style"), (ids.JOURNAL_TABLE, "children")
    ): Permission.VIEW,
    outputs_key((ids.JOURNAL_DOWNLOAD, "data")): Permission.VIEW,
    outputs_key((ids.ACK_RESULT, "children")): Permission.ALARM_ACK,
    outputs_key((ids.SHELVE_RESULT, "children")): Permission.ALARM_SHELVE,  # and unshelve
    outputs_key((ids.RESET_RESULT, "children")): Permission.ALARM_RESET,
    outputs_key((ids.SERVICE_RESULT, "children")): Permission.ALARM_SERVICE,  # out of/return
    # asset history
    outputs_key(
        (ids.POINT_SELECT, "options"), (ids.POINT_SELECT, "value"), (ids.TIMELINE, "children")
    ): Permission.VIEW,
    outputs_key(
        (ids.HISTORY_GRAPH, "figure"),
        (ids.HISTORY_BANNER, "children"),
        (ids.HISTORY_NOTE, "children"),
    ): Permission.VIEW,
    outputs_key((ids.TREND_TICK, "disabled")): None,  # clientside: the live switch
    outputs_key((ids.TREND_TAIL, "data")): Permission.VIEW,  # the live tail's readings
    outputs_key((ids.TREND_RENDERED, "title")): None,  # clientside: appends the tail
    # the asset page: ledger record + QR, live values, open orders (estate-scoped reads)
    outputs_key(
        (ids.ASSET_RECORD, "children"), (ids.ASSET_LIVE, "children"), (ids.ASSET_ORDERS, "children")
    ): Permission.VIEW,
    outputs_key((ids.ASSET_LIVE_STORE, "data")): Permission.VIEW,
    outputs_key((ids.ASSET_LIVE_RENDERED, "title")): None,  # clientside: patches the cells
}

#: Pages that need more than VIEW (path prefix → permission).
PAGE_PERMISSIONS: dict[str, Permission] = {
    "/kpi": Permission.REPORTS,
    "/reports": Permission.REPORTS,  # the page and its downloads (/reports/file/...)
}


def page_permission(path: str) -> Permission:
    """The permission a page path needs (every page needs at least VIEW)."""
    clean = "/" + path.strip("/")
    for prefix, permission in PAGE_PERMISSIONS.items():
        if clean == prefix or clean.startswith(prefix + "/"):
            return permission
    return Permission.VIEW


def callback_permission(output: str) -> Permission | None:
    """The permission a server callback needs; None for one the table does not know or that
    runs in the browser only (both are refused)."""
    return CALLBACK_PERMISSIONS.get(output)


def router_pathname(body: dict[str, object]) -> str | None:
    """The page path a router request asks for (its ``_pages_location.pathname`` input)."""
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        return None
    for item in inputs:
        if (
            isinstance(item, dict)
            and item.get("id") == PAGES_LOCATION
            and item.get("property") == "pathname"
        ):
            value = item.get("value")
            return value if isinstance(value, str) else None
    return None


def current_principal() -> Principal:
    """The signed-in person of this request (put on ``flask.g`` by the request hook).

    AuthError outside a checked request: a page or callback never acts for nobody."""
    principal = getattr(flask.g, "principal", None) if flask.has_request_context() else None
    if not isinstance(principal, Principal):
        raise AuthError("not signed in")
    return principal


def current_token() -> str:
    """The session token of this request (what a command to the alarm engine carries)."""
    token = getattr(flask.g, "session_token", None) if flask.has_request_context() else None
    if not isinstance(token, str) or not token:
        raise AuthError("not signed in")
    return token


def current_csrf() -> str:
    """The CSRF token of this request's session ('' when there is none)."""
    session = getattr(flask.g, "session", None) if flask.has_request_context() else None
    token = getattr(session, "csrf_token", "")
    return token if isinstance(token, str) else ""
