"""The technician's phone pages (``/m/``): one small page and script that work offline.

The pages are not Dash pages on purpose: a Dash page needs the server for its layout and for
every callback, so it cannot open in a basement without signal. ``/m/`` (My work),
``/m/order/<number>`` and ``/m/asset/<asset_no>`` all serve the same shell; ``phone.js``
draws them from the JSON API (``dashboards.api``), keeps actions in a local queue
(IndexedDB) and syncs it in order when the network is back; the service worker ``sw.js``
(scope ``/m/``) keeps the shell and the orders last read so they open offline.

``/assets/<asset_no>`` — the address on printed QR labels and work-order sheets — is sent on to
the asset's page ``/asset/<asset_no>`` (labels already printed keep working).
"""

from __future__ import annotations

from pathlib import Path

import flask
from werkzeug.wrappers import Response

from facility.types import ASSET_NO_RE

HERE = Path(__file__).resolve().parent / "offline"
PREFIX = "/m"
STATIC = {
    "phone.js": "text/javascript",
    "phone.css": "text/css",
    "sw.js": "text/javascript",
}


def install(app_server: flask.Flask) -> None:
    """Add the phone's pages, its static files and the QR redirect to ``app_server``."""
    bp = flask.Blueprint("phone", __name__, url_prefix=PREFIX)
    bp.add_url_rule("/", "mywork", _shell)
    bp.add_url_rule("/order/<number>", "order", _shell_for)
    bp.add_url_rule("/asset/<asset_no>", "asset", _shell_for_asset)
    bp.add_url_rule("/<name>", "static", _static)
    app_server.register_blueprint(bp)
    app_server.before_request(_qr_redirect)


def _shell() -> Response:
    response = flask.make_response((HERE / "shell.html").read_text(encoding="utf-8"))
    response.mimetype = "text/html"
    # the service worker keeps its own copy; the network answer must not be cached elsewhere
    response.headers["Cache-Control"] = "no-cache"
    return response


def _shell_for(number: str) -> Response:
    return _shell()


def _shell_for_asset(asset_no: str) -> Response:
    return _shell()


def _static(name: str) -> Response:
    mime = STATIC.get(name)
    if mime is None:
        flask.abort(404)
    response = flask.make_response((HERE / name).read_text(encoding="utf-8"))
    response.mimetype = mime
    response.headers["Cache-Control"] = "no-cache"
    return response


def _qr_redirect() -> Response | None:
    """``/assets/<asset_no>`` (the QR label's address) → ``/asset/<asset_no>``; Dash's own
    static files under ``/assets/`` are file names, never asset numbers."""
    path = flask.request.path
    if path.startswith("/assets/"):
        asset_no = path.removeprefix("/assets/").strip("/").upper()
        if ASSET_NO_RE.fullmatch(asset_no):
            return flask.redirect(f"/asset/{asset_no}", 302)
    return None
