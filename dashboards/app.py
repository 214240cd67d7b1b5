"""The Dash app: ``create_app(settings)`` builds it, ``run(settings, host, port)`` serves it.

Pages live in ``dashboards/pages`` (one module each, ``dash.register_page`` + ``layout()``).
The header carries the page links and the EN/中文 toggle; the language is kept in a
``dcc.Store`` in the browser's local storage and passed to every page's ``layout(lang=...)``
as a routing input, so switching language re-renders the page server-side.

``DashboardServer`` serves an app from a werkzeug server in a daemon thread and can be
stopped (tests, screenshots); ``run`` serves in the foreground until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import threading
from pathlib import Path
from types import TracebackType

import dash
from dash import Input, Output, State, dcc, html
from werkzeug.serving import BaseWSGIServer, make_server

from dashboards import ids
from dashboards.components import QUERIES_KEY
from dashboards.i18n import normalise, t
from dashboards.queries import Queries
from facility.config import Settings

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PAGES = ("overview", "alarms", "workorders", "asset", "kpi")
PAGE_PATHS = {
    "overview": "/",
    "alarms": "/alarms",
    "workorders": "/workorders",
    "asset": "/asset",
    "kpi": "/kpi",
}


def _header() -> html.Header:
    links = [
        dcc.Link(t(f"nav_{page}", "en"), href=PAGE_PATHS[page], id=ids.nav_link(page))
        for page in PAGES
    ]
    return html.Header(
        [
            html.Span(t("app_title", "en"), id=ids.TITLE, className="app-title"),
            html.Nav(links, id=ids.NAV, className="nav"),
            html.Button(t("language", "en"), id=ids.LANG_TOGGLE, className="lang-toggle"),
        ],
        className="app-header",
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
    app.layout = html.Div(
        [
            dcc.Store(id=ids.LANG, storage_type="local", data="en"),
            _header(),
            html.Main(dash.page_container, className="app-main"),
        ]
    )
    _register_shell_callbacks(app)
    # imported after the app exists: Dash has (re)loaded the page modules by now
    from dashboards.pages import alarms, asset, kpi, overview, workorders

    for page in (overview, alarms, workorders, asset, kpi):
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
        [Output(ids.TITLE, "children"), Output(ids.LANG_TOGGLE, "children")]
        + [Output(ids.nav_link(page), "children") for page in PAGES],
        Input(ids.LANG, "data"),
    )
    def label_header(lang: str | None) -> list[str]:
        lang = normalise(lang)
        return [t("app_title", lang), t("language", lang)] + [
            t(f"nav_{page}", lang) for page in PAGES
        ]


class DashboardServer:
    """An app served by werkzeug from a daemon thread, with its live feed; ``stop()`` ends
    both. ``port=0`` picks a free port (see ``url``)."""

    def __init__(
        self,
        settings: Settings,
        host: str = "127.0.0.1",
        port: int = 8050,
        *,
        queries: Queries | None = None,
    ) -> None:
        self.queries = queries or Queries(settings)
        # one access-log line per 2 s poll of every open browser is noise, not news
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.app = create_app(settings, self.queries)
        self._server: BaseWSGIServer = make_server(host, port, self.app.server, threaded=True)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self._server.host}:{self._server.port}"

    def start(self) -> DashboardServer:
        self.queries.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="dashboard-http", daemon=True
        )
        self._thread.start()
        log.info("dashboard serving url=%s", self.url)
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (the CLI)."""
        self.queries.start()
        log.info("dashboard serving url=%s", self.url)
        try:
            self._server.serve_forever()
        finally:
            self.stop()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(10)
            self._thread = None
        self._server.server_close()
        self.queries.close()

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.stop()


def run(settings: Settings, host: str = "127.0.0.1", port: int = 8050) -> None:
    """Serve the dashboard until Ctrl-C."""
    server = DashboardServer(settings, host, port)
    print(f"Facility dashboard on {server.url}  (Ctrl-C stops it)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
