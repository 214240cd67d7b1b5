"""The Dash app: ``create_app(settings)`` builds it, ``run(settings, host, port)`` serves it.

Pages live in ``dashboards/pages`` (one module each, ``dash.register_page`` + ``layout()``).
The header carries the page links and the EN/中文 toggle; the language is kept in a
``dcc.Store`` in the browser's local storage and passed to every page's ``layout(lang=...)``
as a routing input, so switching language re-renders the page server-side.

Every request passes ``dashboards.auth``'s gate first (session, CSRF, the per-callback
permission table of ``dashboards.access``); the header says who is signed in and links only
the pages their roles may open.

``DashboardServer`` serves an app from waitress (a production WSGI server, not werkzeug's
development server) in a daemon thread and can be stopped (tests, screenshots); ``run``
serves in the foreground until Ctrl-C. Behind a TLS reverse proxy, pass its address as
``trusted_proxy`` so the client's address and scheme come from its headers (docs/identity.md).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import dash
from dash import Input, Output, State, dcc, html
from waitress.server import (  # type: ignore[import-untyped]
    BaseWSGIServer,
    MultiSocketServer,
    create_server,
)

from dashboards import access, api, auth, ids, phone
from dashboards.components import QUERIES_KEY, alarm_counter, register_counter_callbacks
from dashboards.i18n import normalise, t
from dashboards.queries import Queries
from facility.config import Settings
from facility.errors import AuthError
from maintenance.identity.roles import Principal

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PAGES = ids.PAGES
PAGE_PATHS = {
    "overview": "/",
    "alarms": "/alarms",
    "workorders": "/workorders",
    "asset": "/asset",
    "kpi": "/kpi",
    "reports": "/reports",
}


def _header(principal: Principal | None, csrf: str) -> html.Header:
    # a link the person's roles cannot open is hidden (kept in the page: the labelling
    # callback writes every link); the gate refuses the page itself either way
    links = [
        dcc.Link(
            t(f"nav_{page}", "en"),
            href=PAGE_PATHS[page],
            id=ids.nav_link(page),
            style=None if _may_open(principal, page) else {"display": "none"},
        )
        for page in PAGES
    ]
    who: list[Any] = []
    if principal is not None:
        roles = ", ".join(sorted(principal.roles))
        sites = "all estates" if principal.all_sites else ", ".join(sorted(principal.sites))
        badge = f"{principal.display_name or principal.name} ({roles} · {sites})"
        who = [
            html.Span(
                badge,
                id=ids.USER_BADGE,
                className="user-badge",
                title=f"{principal.name}: {badge}",  # the whole of it where the header cuts it
            ),
            html.Form(
                [
                    dcc.Input(type="hidden", name=auth.CSRF_FIELD, value=csrf),
                    html.Button("Sign out · 退出", id=ids.LOGOUT_BUTTON, className="lang-toggle"),
                ],
                id=ids.LOGOUT_FORM,
                method="post",
                action=auth.LOGOUT_PATH,
                className="logout-form",
            ),
        ]
    # on a phone (style.css, max-width 640px) the header is one line: the menu button, the
    # title and the alarm counter; the button opens the rest (assets/facility.js)
    aria: dict[str, Any] = {"aria-expanded": "false", "aria-controls": ids.HEADER}
    menu = html.Button(
        t("menu", "en"), id=ids.MENU_BUTTON, className="menu-toggle", type="button", **aria
    )
    return html.Header(
        [
            menu,
            html.Span(t("app_title", "en"), id=ids.TITLE, className="app-title"),
            html.Nav(links, id=ids.NAV, className="nav"),
            *(alarm_counter() if principal is not None else []),
            *who,
            html.Button(t("language", "en"), id=ids.LANG_TOGGLE, className="lang-toggle"),
        ],
        id=ids.HEADER,
        className="app-header",
    )


def _may_open(principal: Principal | None, page: str) -> bool:
    return principal is not None and principal.can(access.page_permission(PAGE_PATHS[page]))


def _layout() -> html.Div:
    """The shell, per request: the header names the signed-in person (the gate has put them
    on ``flask.g``; the layout is never served without one)."""
    try:
        principal: Principal | None = access.current_principal()
    except AuthError:
        principal = None
    return html.Div(
        [
            dcc.Store(id=ids.LANG, storage_type="local", data="en"),
            _header(principal, access.current_csrf()),
            html.Main(dash.page_container, className="app-main"),
        ]
    )


def create_app(settings: Settings, queries: Queries | None = None) -> dash.Dash:
    """The dashboard app over ``settings`` (``queries``: the query layer, made if not given;
    start it with ``queries.start()`` or through ``DashboardServer``/``run``)."""
    # Compression only if flask-compress is installed (Dash needs it for compress=True).
    compress = importlib.util.find_spec("flask_compress") is not None
    app = dash.Dash(
        "dashboards",
        use_pages=True,
        pages_folder=str(HERE / "pages"),
        assets_folder=str(HERE / "assets"),
        title="Facility",
        update_title="",
        suppress_callback_exceptions=True,
        compress=compress,
        routing_callback_inputs={"lang": Input(ids.LANG, "data")},
    )
    app.server.config[QUERIES_KEY] = queries or Queries(settings)
    auth.install(app.server, settings)
    api.install(app.server, settings)  # the technician's phone: JSON API and offline pages
    phone.install(app.server)
    app.layout = _layout
    _register_shell_callbacks(app)
    register_counter_callbacks(app)
    # imported after the app exists: Dash has (re)loaded the page modules by now
    from dashboards.pages import alarms, asset, kpi, overview, reports, workorders

    for page in (overview, alarms, workorders, asset, kpi, reports):
        page.register_callbacks(app)
    return app


def _register_shell_callbacks(app: dash.Dash) -> None:
    @app.callback(
        Output(ids.LANG, "data"),
        Input(ids.LANG_TOGGLE, "n_clicks"),
        State(ids.LANG, "data"),
        prevent_initial_call=True,
    )
    def toggle_language(_clicks: int | None, lang: str | None) -> str:
        return "en" if normalise(lang) == "zh" else "zh"

    @app.callback(
        [
            Output(ids.TITLE, "children"),
            Output(ids.LANG_TOGGLE, "children"),
            Output(ids.MENU_BUTTON, "children"),
        ]
        + [Output(ids.nav_link(page), "children") for page in PAGES],
        Input(ids.LANG, "data"),
    )
    def label_header(lang: str | None) -> list[str]:
        lang = normalise(lang)
        return [t("app_title", lang), t("language", lang), t("menu", lang)] + [
            t(f"nav_{page}", lang) for page in PAGES
        ]


class QueueDepthFilter(logging.Filter):
    """waitress says "Task queue depth is 1" whenever one request waits for a free thread, a
    few milliseconds when a phone opens and fetches its pages at once: in the demo's log
    after every sign-in. Only a backlog of ``threshold`` waiting requests (as many as there
    are threads) is worth a warning: the dashboard is then falling behind."""

    def __init__(self, threshold: int) -> None:
        super().__init__()
        self.threshold = threshold

    def filter(self, record: logging.LogRecord) -> bool:
        depth = record.args[0] if isinstance(record.args, tuple) and record.args else None
        return not isinstance(depth, int) or depth >= self.threshold


def _quiet_short_queues(threads: int) -> None:
    queue_log = logging.getLogger("waitress.queue")
    for old in [f for f in queue_log.filters if isinstance(f, QueueDepthFilter)]:
        queue_log.removeFilter(old)
    queue_log.addFilter(QueueDepthFilter(threads))


class DashboardServer:
    """An app served by waitress from a daemon thread, with its live feed; ``stop()`` ends
    both. ``port=0`` picks a free port (see ``url``). ``trusted_proxy``: the address of a
    reverse proxy whose ``X-Forwarded-For``/``-Proto``/``-Host`` headers are believed."""

    def __init__(
        self,
        settings: Settings,
        host: str = "127.0.0.1",
        port: int = 8050,
        *,
        queries: Queries | None = None,
        threads: int = 8,
        trusted_proxy: str | None = None,
    ) -> None:
        self.queries = queries or Queries(settings)
        self.app = create_app(settings, self.queries)
        proxy: dict[str, Any] = {}
        if trusted_proxy:
            proxy = {
                "trusted_proxy": trusted_proxy,
                "trusted_proxy_headers": {
                    "x-forwarded-for",
                    "x-forwarded-proto",
                    "x-forwarded-host",
                },
                "clear_untrusted_proxy_headers": True,
            }
        self._map: dict[int, Any] = {}
        _quiet_short_queues(threads)
        # threads: one request waits on the alarm engine's answer (ack) without stalling
        # the 2 s ticks of every other browser
        self._server: BaseWSGIServer | MultiSocketServer = create_server(
            self.app.server, map=self._map, host=host, port=port, threads=threads, ident="facility",
            **proxy,
        )  # fmt: skip
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.effective_host, self._server.effective_port
        return f"http://{host}:{port}"

    def start(self) -> DashboardServer:
        self.queries.start()
        self._thread = threading.Thread(target=self._server.run, name="dashboard-http", daemon=True)
        self._thread.start()
        log.info("dashboard serving url=%s", self.url)
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (the CLI)."""
        self.queries.start()
        log.info("dashboard serving url=%s", self.url)
        try:
            self._server.run()
        finally:
            self.stop()

    def stop(self) -> None:
        if self._thread is not None:
            # the loop ends when its socket map is empty: empty it from the loop's own thread
            self._server.trigger.pull_trigger(self._close_channels)
            self._thread.join(10)
            self._thread = None
        else:
            self._close_channels()
        self._server.task_dispatcher.shutdown()
        self.queries.close()
        self.app.server.config[auth.GATE_KEY].close()
        self.app.server.config[api.PHONE_API_CONFIG].close()

    def _close_channels(self) -> None:
        for channel in list(self._map.values()):
            if hasattr(channel, "outbufs"):
                # an HTTP channel: handle_close also closes its output buffers (a response
                # over 1 MB, such as plotly.js, is buffered in a temporary file that close()
                # alone leaves open)
                channel.handle_close()
            else:
                channel.close()

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.stop()


def run(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8050,
    *,
    trusted_proxy: str | None = None,
) -> None:
    """Serve the dashboard until Ctrl-C."""
    server = DashboardServer(settings, host, port, trusted_proxy=trusted_proxy)
    print(f"Facility dashboard on {server.url}  (Ctrl-C stops it)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
