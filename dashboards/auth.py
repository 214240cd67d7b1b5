"""Sign-in, sessions and the server-side check of every dashboard request (Flask, on
``app.server``).

- ``GET /login`` is a small server-rendered form (no Dash); ``POST /login`` checks the
  password with ``UserStore.authenticate`` and opens a browser session: cookie
  ``facility_session`` (HttpOnly, SameSite=Lax, Secure when ``identity.secure_cookies``), and
  the session's CSRF token in the cookie ``_csrf_token``, which Dash's renderer reads and sends
  back as the ``X-CSRFToken`` header on every callback (dash-renderer ``getCSRFHeader``).
  ``POST /logout`` ends the session.
- ``Gate.check`` runs before every request: everything but the sign-in page, its CSS and
  Dash's static bundles needs a valid session (pages are sent to ``/login?next=...``,
  callbacks and other XHRs get 401 JSON); every POST must carry the session's CSRF token;
  every callback must be in ``dashboards.access``'s table and allowed for the person, and a
  page the person may not open is refused. Each refusal is written to the audit trail.

The login form's own CSRF token is a random value in the same cookie before a session
exists (double submit): a third-party page cannot read it, so it cannot sign a victim in to
the attacker's account.
"""

from __future__ import annotations

import hmac
import html
import json
import logging
import re
import secrets
import threading
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import flask
from werkzeug.wrappers import Response

from dashboards import access
from facility.config import Settings
from facility.errors import AuthError
from maintenance.identity.roles import Permission, Principal, Source
from maintenance.identity.store import SessionInfo, UserStore

log = logging.getLogger(__name__)

SESSION_COOKIE = "facility_session"
CSRF_COOKIE = "_csrf_token"  # the name Dash's renderer reads (Dash(csrf_token_name=...))
CSRF_HEADER = "X-CSRFToken"
CSRF_FIELD = "csrf_token"
LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
#: Served without a session: the sign-in form, its stylesheet, Dash's JS bundles, the icon.
PUBLIC_PATHS = frozenset({LOGIN_PATH, LOGOUT_PATH, "/assets/style.css", "/_favicon.ico"})
PUBLIC_PREFIXES = ("/_dash-component-suites/",)
MAX_REQUEST_BYTES = 2 * 1024 * 1024  # callbacks and forms are small; a flood is refused early
ANONYMOUS = "anonymous"
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{32,100}")
GATE_KEY = "FACILITY_GATE"


def local_next(target: str | None) -> str:
    """``target`` if it is a path on this server, else ``/`` (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return "/"
    return target


class Gate:
    """The request check and the sign-in routes of one app, over the users database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: UserStore | None = None
        self._lock = threading.Lock()

    @property
    def store(self) -> UserStore:
        """The user store, opened on first use (no I/O when the app is built)."""
        with self._lock:
            if self._store is None:
                self._store = UserStore(self.settings.database_url)
            return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    # -- the check before every request ----------------------------------------------------

    def check(self) -> Response | None:
        """None to let the request through (principal on ``flask.g``), or the refusal."""
        request = flask.request
        path = request.path
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            return None
        token = request.cookies.get(SESSION_COOKIE, "")
        # the phone's JSON API answers 401 JSON like a callback, never the sign-in page
        xhr = path.startswith(("/_dash-", "/m/api/")) or request.method != "GET"
        try:
            session = self.store.resolve(
                token, source=Source.DASHBOARD, remote=request.remote_addr, kinds=("browser",)
            )
        except AuthError as exc:
            if not xhr:
                return flask.redirect(f"{LOGIN_PATH}?next={quote(request.full_path.rstrip('?'))}")
            if request.method != "GET":  # a state change without a session: forged or stale
                self.refuse(ANONYMOUS, path, str(exc), 401)
            return _json({"error": str(exc), "login": LOGIN_PATH}, 401)
        flask.g.principal = session.principal
        flask.g.session = session
        flask.g.session_token = token
        principal = session.principal
        if request.method not in ("GET", "HEAD", "OPTIONS") and not _same(
            request.headers.get(CSRF_HEADER, ""), session.csrf_token
        ):
            self.refuse(principal, path, "missing or wrong CSRF token", 403)
            return _json({"error": "refused: missing or wrong CSRF token"}, 403)
        if path == "/_dash-update-component":
            return self._check_callback(principal)
        if not xhr:
            needed = access.page_permission(path)
            if not principal.can(needed):
                self.refuse(principal, f"page:{path}", f"needs {needed.value}", 403)
                return _page_refused(principal, needed)
        return None

    def _check_callback(self, principal: Principal) -> Response | None:
        try:
            body = json.loads(flask.request.get_data(cache=True))
        except (ValueError, RecursionError):  # hostile nesting is not a ValueError
            self.refuse(principal, "callback:?", "malformed callback request", 400)
            return _json({"error": "malformed callback request"}, 400)
        output = body.get("output") if isinstance(body, dict) else None
        if not isinstance(output, str):
            self.refuse(principal, "callback:?", "callback request without an output", 400)
            return _json({"error": "callback request without an output"}, 400)
        needed = access.callback_permission(output)
        if needed is None:
            reason = (
                "unknown callback"
                if output not in access.CALLBACK_PERMISSIONS
                else ("a browser-only callback asked of the server")
            )
            self.refuse(principal, f"callback:{output}", reason, 403)
            return _json({"error": f"refused: {reason}"}, 403)
        if not principal.can(needed):
            self.refuse(principal, f"callback:{output}", f"needs {needed.value}", 403)
            return _json({"error": f"refused: this needs the permission {needed.value}"}, 403)
        if output == access.ROUTER:
            pathname = access.router_pathname(body) or "/"
            page_needs = access.page_permission(pathname)
            if not principal.can(page_needs):
                self.refuse(principal, f"page:{pathname}", f"needs {page_needs.value}", 403)
                return _json({"error": f"refused: this page needs {page_needs.value}"}, 403)
        return None

    def refuse(self, actor: Principal | str, entity: str, reason: str, status: int) -> None:
        """Record a refusal in the audit trail (and say it once in the log)."""
        remote = flask.request.remote_addr
        name = actor.name if isinstance(actor, Principal) else actor
        log.warning("dashboard refused user=%s entity=%.200s reason=%s", name, entity, reason)
        detail = {"reason": reason, "status": status, "method": flask.request.method}
        try:
            self.store.audit(
                actor, "refused", entity, detail, source=Source.DASHBOARD, remote=remote
            )
        except Exception:  # the refusal stands even if the trail cannot be written
            log.exception("audit trail: cannot record a refusal")

    # -- sign-in and sign-out --------------------------------------------------------------

    def login_form(self) -> Response:
        if flask.request.method == "POST":
            return self._login()
        target = local_next(flask.request.args.get("next"))
        token = flask.request.cookies.get(SESSION_COOKIE, "")
        if token:
            try:
                self.store.resolve(token, source=Source.DASHBOARD, kinds=("browser",))
            except AuthError:
                pass
            else:  # already signed in: keep the session's CSRF cookie, go on
                return flask.redirect(target)
        return self._form(target, "", 200)

    def _form(self, target: str, message: str, status: int, name: str = "") -> Response:
        # keep the browser's token if it has one: a second GET of the form (the browser's
        # own favicon request is sent here too) must not void the form already shown
        csrf = flask.request.cookies.get(CSRF_COOKIE, "")
        if not TOKEN_RE.fullmatch(csrf):
            csrf = secrets.token_urlsafe(32)
        response = flask.make_response(login_page(csrf, target, message, name[:40]), status)
        response.headers["Cache-Control"] = "no-store"
        self._set_cookie(response, CSRF_COOKIE, csrf, http_only=False)
        return response

    def _login(self) -> Response:
        form = flask.request.form
        target = local_next(form.get("next"))
        name = form.get("username", "")
        remote = flask.request.remote_addr
        if not _same(form.get(CSRF_FIELD, ""), flask.request.cookies.get(CSRF_COOKIE, "")):
            self.refuse(name[:100] or ANONYMOUS, "login", "missing or wrong CSRF token", 403)
            return self._form(target, "The form had expired: please sign in again.", 403)
        try:
            principal = self.store.authenticate(
                name, form.get("password", ""), source=Source.DASHBOARD, remote=remote
            )
        except AuthError as exc:
            return self._form(target, str(exc), 401, name)
        identity = self.settings.identity
        ticket = self.store.open_session(
            principal,
            kind="browser",
            ttl=timedelta(hours=identity.session_hours),
            idle=timedelta(minutes=identity.idle_minutes),
        )
        log.info("dashboard sign-in user=%s remote=%s", principal.name, remote)
        response = flask.redirect(target, 303)
        max_age = int(identity.session_hours * 3600)
        self._set_cookie(response, SESSION_COOKIE, ticket.token, http_only=True, max_age=max_age)
        self._set_cookie(response, CSRF_COOKIE, ticket.csrf_token, http_only=False, max_age=max_age)
        return response

    def logout(self) -> Response:
        token = flask.request.cookies.get(SESSION_COOKIE, "")
        session: SessionInfo | None = None
        if token:
            try:
                session = self.store.resolve(
                    token,
                    source=Source.DASHBOARD,
                    remote=flask.request.remote_addr,
                    kinds=("browser",),
                )
            except AuthError:
                session = None
        if session is not None:
            # a cross-site form must not sign people out: the session's own token is needed
            if not _same(flask.request.form.get(CSRF_FIELD, ""), session.csrf_token):
                self.refuse(session.principal, "logout", "missing or wrong CSRF token", 403)
                return _json({"error": "refused: missing or wrong CSRF token"}, 403)
            self.store.revoke(token, by=session.principal)
            log.info("dashboard sign-out user=%s", session.principal.name)
        response = flask.redirect(LOGIN_PATH, 303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")
        return response

    def _set_cookie(
        self, response: Response, name: str, value: str, *, http_only: bool, max_age: int = 3600
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            httponly=http_only,
            samesite="Lax",
            secure=self.settings.identity.secure_cookies,
        )


def install(app_server: flask.Flask, settings: Settings) -> Gate:
    """Put the gate in front of every request of ``app_server`` and add the sign-in routes.

    Call after the Dash app exists (its own before-request set-up runs first)."""
    gate = Gate(settings)
    app_server.config[GATE_KEY] = gate
    app_server.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app_server.config["MAX_FORM_MEMORY_SIZE"] = MAX_REQUEST_BYTES
    app_server.before_request(gate.check)
    app_server.add_url_rule(LOGIN_PATH, "login", gate.login_form, methods=["GET", "POST"])
    app_server.add_url_rule(LOGOUT_PATH, "logout", gate.logout, methods=["POST"])
    return gate


def gate() -> Gate:
    """The gate of the app serving this request."""
    found: Gate = flask.current_app.config[GATE_KEY]
    return found


def _same(given: str, expected: str) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(given, expected)


def _json(body: dict[str, Any], status: int) -> Response:
    response = flask.make_response(json.dumps(body), status)
    response.mimetype = "application/json"
    return response


def _page_refused(principal: Principal, needed: Permission) -> Response:
    roles = ", ".join(sorted(principal.roles))
    text = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Not allowed</title>"
        f"<link rel='stylesheet' href='/assets/style.css'></head><body class='login-body'>"
        f"<main class='login-box'><h1>Not allowed · 无权访问</h1>"
        f"<p>{html.escape(principal.name)} ({html.escape(roles)}): this page needs the "
        f"permission <b>{html.escape(needed.value)}</b>.</p><p><a href='/'>Overview · 总览</a>"
        f"</p></main></body></html>"
    )
    return flask.make_response(text, 403)


def login_page(csrf: str, target: str, message: str, name: str = "") -> str:
    """The sign-in form (both languages: the language choice lives in the Dash pages)."""
    esc = html.escape
    error = f"<p class='banner banner-error' role='alert'>{esc(message)}</p>" if message else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · 登录 — Facility</title>
<link rel="icon" href="/_favicon.ico">
<link rel="stylesheet" href="/assets/style.css"></head>
<body class="login-body"><main class="login-box">
<h1>Facility monitoring · 设施监控中心</h1>
{error}
<form method="post" action="{LOGIN_PATH}" id="login-form">
<input type="hidden" name="{CSRF_FIELD}" value="{esc(csrf)}">
<input type="hidden" name="next" value="{esc(target)}">
<label for="username">User name · 用户名</label>
<input id="username" name="username" autocomplete="username" required maxlength="40"
 value="{esc(name)}" autofocus>
<label for="password">Password · 密码</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" id="login-button" class="btn">Sign in · 登录</button>
</form></main></body></html>
"""
