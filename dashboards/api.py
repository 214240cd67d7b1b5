"""The JSON API the technician's phone works and syncs against (Flask, under ``/m/api``).

Every route sits behind ``dashboards.auth``'s gate (a browser session; every POST carries the
session's CSRF token in ``X-CSRFToken``); every change goes to ``WorkOrderStore``, which
checks the permission and ownership in its transaction and audits it. Refusals made here
(bad input, an order outside the person's estates) are audited through the gate.

- ``GET  /m/api/mywork`` — the person's orders and the team's unassigned ones, most urgent
  first, with the completion due and the seconds left to it.
- ``GET  /m/api/assets/<asset_no>/orders`` — the asset's open orders (a scanned QR label).
- ``GET  /m/api/orders/<number>`` — one order with its checklist, codes, lines, attachments,
  proof of fix and the actions the person may take.
- ``POST /m/api/orders/<number>/actions`` — ``{"key", "version", "action", ...}``: one change.
  ``key`` makes it idempotent (a retry answers ``replayed``, applies nothing); ``version`` is
  the order version the phone saw: a change made meanwhile by someone else is a 409 conflict.
- ``POST /m/api/orders/<number>/attachments?kind=photo|signature&key=..&version=..&item=N`` —
  the image bytes as the body (at most 10 MB, JPEG/PNG/WebP by their first bytes).
- ``GET  /m/api/files/<sha256>`` — a stored photo or signature, to people who see its order.

Answers are JSON: ``{"ok": true, "order": ...}`` or ``{"error": "<what and why>"}`` with
400 (malformed), 403 (not allowed), 404 (no such order in your estates), 409 (conflict),
413 (too large), 422 (the order or the data does not allow it), 503 (storage down).
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import flask
from werkzeug.wrappers import Response

from dashboards import access, auth
from dashboards.wo_actions import ACTIONS, my_work, order_json, summary_json
from facility.config import Settings
from facility.errors import (
    AuthError,
    ConfigError,
    FacilityError,
    PermissionDenied,
    StorageError,
)
from facility.types import ASSET_NO_RE
from maintenance import wo_notify
from maintenance.attachments import MAX_BYTES, AttachmentError, AttachmentStore, sniff_image
from maintenance.identity.roles import Permission, Principal
from maintenance.wo_lifecycle import AlreadyApplied, OrderConflict, Submission, check_permission
from maintenance.wo_store import KEY_RE, WorkOrderStore
from maintenance.workorders import (
    FINAL_STATES,
    SlaTargets,
    WorkOrder,
    WorkOrderError,
    WoState,
    parse_number,
)

log = logging.getLogger(__name__)

PREFIX = "/m/api"
PHONE_API_CONFIG = "FACILITY_PHONE_API"
MAX_ACTION_BYTES = 16 * 1024  # one action is a few fields; a flood or a deep nest is refused
LISTED_STATES = sorted(set(WoState) - FINAL_STATES)


class PhoneApi:
    """The stores behind the API of one app, opened on first use (no I/O at app creation)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tz = ZoneInfo(settings.site.timezone)
        self.files = AttachmentStore(settings.paths.var_dir / "attachments")
        self._store: WorkOrderStore | None = None
        self._lock = threading.Lock()

    @property
    def store(self) -> WorkOrderStore:
        with self._lock:
            if self._store is None:
                config = self.settings.maintenance
                self._store = WorkOrderStore(
                    self.settings.database_url,
                    sla=SlaTargets.from_config(config.sla_response_min, config.sla_completion_h),
                    proof_hold=timedelta(minutes=config.proof_of_fix_min),
                    notifier=wo_notify.from_settings(self.settings),
                )
            return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def install(app_server: flask.Flask, settings: Settings) -> PhoneApi:
    """Add the API's routes to ``app_server`` (behind the gate already installed)."""
    api = PhoneApi(settings)
    app_server.config[PHONE_API_CONFIG] = api
    bp = flask.Blueprint("phone_api", __name__, url_prefix=PREFIX)
    bp.add_url_rule("/mywork", "mywork", _mywork, methods=["GET"])
    bp.add_url_rule("/assets/<asset_no>/orders", "asset_orders", _asset_orders, methods=["GET"])
    bp.add_url_rule("/orders/<number>", "order", _order, methods=["GET"])
    bp.add_url_rule("/orders/<number>/actions", "action", _action, methods=["POST"])
    bp.add_url_rule("/orders/<number>/attachments", "attach", _attach, methods=["POST"])
    bp.add_url_rule("/files/<sha256>", "file", _file, methods=["GET"])
    app_server.register_blueprint(bp)
    return api


def _api() -> PhoneApi:
    found: PhoneApi = flask.current_app.config[PHONE_API_CONFIG]
    return found


def _json(body: dict[str, Any], status: int = 200) -> Response:
    response = flask.make_response(json.dumps(body, ensure_ascii=False), status)
    response.mimetype = "application/json"
    response.headers["Cache-Control"] = "no-store"
    return response


def _refuse(person: Principal, entity: str, reason: str, status: int) -> Response:
    auth.gate().refuse(person, entity, reason, status)
    return _json({"error": reason}, status)


def _now() -> datetime:
    return datetime.now(UTC)


def _visible(number: str, person: Principal) -> WorkOrder:
    """The order if it exists in the person's estates; ConfigError (the same words for both)
    otherwise, so a number outside them says nothing about whether it exists."""
    hidden = ConfigError(f"work order {number[:40]}: not found or not in your estates")
    try:
        parse_number(number)
        order = _api().store.get(number)
    except (ConfigError, PermissionDenied):
        raise hidden from None
    if not person.sees(order.site):
        raise hidden
    return order


def _full(order: WorkOrder, person: Principal) -> dict[str, Any]:
    api = _api()
    return order_json(order, person, api.tz, _now(), api.store.failure_codes())


def _mywork() -> Response:
    person = access.current_principal()
    api = _api()
    try:
        orders = api.store.orders(states=LISTED_STATES)
    except FacilityError as exc:
        return _json({"error": f"work orders unavailable: {exc}"}, 503)
    now = _now()
    return _json(
        {
            "user": person.name,
            "display_name": person.display_name or person.name,
            "now": now.isoformat(),
            "orders": [summary_json(o, person, api.tz, now) for o in my_work(orders, person)],
        }
    )


def _asset_orders(asset_no: str) -> Response:
    """The asset's open orders (what a scanned QR label shows), most urgent first."""
    person = access.current_principal()
    api = _api()
    asset_no = asset_no.upper()
    if not ASSET_NO_RE.fullmatch(asset_no) or not person.sees(asset_no.split("-")[0]):
        return _refuse(person, f"asset:{asset_no[:40]}", "no such asset in your estates", 404)
    try:
        orders = [o for o in api.store.orders(states=LISTED_STATES) if o.asset_no == asset_no]
    except FacilityError as exc:
        return _json({"error": f"work orders unavailable: {exc}"}, 503)
    now = _now()
    orders.sort(key=lambda o: (o.priority.rank, o.completion_due, o.number))
    return _json(
        {
            "asset_no": asset_no,
            "now": now.isoformat(),
            "orders": [summary_json(o, person, api.tz, now) for o in orders],
        }
    )


def _order(number: str) -> Response:
    person = access.current_principal()
    try:
        order = _visible(number, person)
    except ConfigError as exc:
        return _refuse(person, f"wo:{number[:40]}", str(exc), 404)
    return _json({"ok": True, "order": _full(order, person)})


def _submission(raw: dict[str, Any] | Any, number: str) -> Submission:
    key = raw.get("key") if isinstance(raw, dict) else None
    version = raw.get("version") if isinstance(raw, dict) else None
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        raise ConfigError(
            f"{number}: expected an idempotency key (8-64 letters, digits, '-' or '_')"
        )
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise ConfigError(f"{number}: version: expected the order's version number")
    return Submission(key, version)


def _text(body: dict[str, Any], field: str, limit: int = 2000) -> str:
    value = body.get(field, "")
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ConfigError(f"{field}: expected text")
    text = str(value)
    if len(text) > limit:
        raise ConfigError(f"{field}: at most {limit} characters (got {len(text)})")
    return text


def _number_field(body: dict[str, Any], field: str) -> float:
    value = body.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"{field}: expected a number")
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{field}: expected a number, got {str(value)[:40]!r}") from None


def _apply(number: str, body: dict[str, Any], person: Principal, sub: Submission) -> WorkOrder:
    """Run one action of the phone on the store (which checks permission and lifecycle)."""
    store = _api().store
    action = body.get("action")
    kw: dict[str, Any] = {"actor": person, "submission": sub}
    if action == "start":
        return store.start(number, **kw)
    if action == "hold":
        return store.hold(number, _text(body, "reason", 500), **kw)
    if action == "decline":
        return store.decline(number, _text(body, "reason", 500), **kw)
    if action == "record":
        position = body.get("position")
        if isinstance(position, bool) or not isinstance(position, int):
            raise ConfigError(f"{number}: record: expected the checklist item's position")
        answer = _text(body, "answer", 500)
        store.record(number, position, answer, spawn=True, **kw)
        return store.get(number)
    if action == "labour":
        minutes = _number_field(body, "minutes")
        if not minutes.is_integer():
            raise ConfigError(f"{number}: labour: expected whole minutes")
        note = _text(body, "note", 500)
        return store.log_labour(number, person.name, int(minutes), note=note, **kw)
    if action == "part":
        quantity = _number_field(body, "quantity")
        unit = _text(body, "unit", 20) or "pcs"
        return store.add_part(number, _text(body, "description", 300), quantity, unit=unit, **kw)
    if action == "complete":
        return store.complete(
            number,
            note=_text(body, "note"),
            problem=_text(body, "problem", 32) or None,
            cause=_text(body, "cause", 32) or None,
            remedy=_text(body, "remedy", 32) or None,
            **kw,
        )
    if action == "assign":
        return store.assign(number, _text(body, "assignee", 40), **kw)
    if action == "verify":
        return store.verify(number, note=_text(body, "note"), **kw)
    if action == "reopen":
        return store.reopen(number, _text(body, "reason", 500), **kw)
    if action == "close":
        return store.close_order(number, note=_text(body, "note"), **kw)
    known = ", ".join(a for a in ACTIONS if a not in ("photo", "signature"))
    raise ConfigError(f"{number}: action {str(action)[:40]!r}: expected one of {known}")


def _action(number: str) -> Response:
    person = access.current_principal()
    request = flask.request
    if (request.content_length or 0) > MAX_ACTION_BYTES:
        return _refuse(person, f"wo:{number[:40]}", "action too large (at most 16 KB)", 413)
    try:
        body = json.loads(request.get_data(cache=False) or b"null")
    except (ValueError, RecursionError):
        return _refuse(person, f"wo:{number[:40]}", "malformed JSON action", 400)
    if not isinstance(body, dict):
        return _refuse(person, f"wo:{number[:40]}", "expected a JSON object", 400)
    try:
        _visible(number, person)
    except ConfigError as exc:
        return _refuse(person, f"wo:{number[:40]}", str(exc), 404)
    return _run(number, person, lambda sub: _apply(number, body, person, sub), body)


def _attach(number: str) -> Response:
    person = access.current_principal()
    request = flask.request
    args = request.args
    kind = args.get("kind", "photo")
    entity = f"wo:{number[:40]}"
    size = request.content_length
    if size is None:
        return _refuse(person, entity, f"{kind}: expected the image as the request body", 411)
    if size > MAX_BYTES:
        # refused before the body is read: a 50 MB "photo" costs the server nothing more
        reason = (
            f"{kind}: {size / 1048576:.1f} MB is too large; at most "
            f"{MAX_BYTES / 1048576:.0f} MB (the phone resizes photos before sending)"
        )
        return _refuse(person, entity, reason, 413)
    try:
        _visible(number, person)
    except ConfigError as exc:
        return _refuse(person, entity, str(exc), 404)
    item = args.get("item")
    version = args.get("version")
    try:
        position = int(item) if item not in (None, "") else None
        raw = {"key": args.get("key"), "version": int(version) if version else None}
    except ValueError:
        return _refuse(person, entity, "item and version: expected whole numbers", 400)
    if kind not in ("photo", "signature"):
        return _refuse(person, entity, f"kind {kind[:20]!r}: expected photo or signature", 400)
    request.max_content_length = MAX_BYTES
    data = request.get_data(cache=False)
    # the person may work this order before anything is written to disk
    try:
        order = _visible(number, person)
        store = _api().store
        check_permission(person, "record", order.number, order.site, order.assignee)
        stored = _api().files.put(data, what=kind)
    except PermissionDenied as exc:
        return _refuse(person, entity, str(exc), 403)
    except AttachmentError as exc:
        return _refuse(person, entity, str(exc), 422)
    except StorageError as exc:
        log.error("attachment store failed: %s", exc)
        return _json({"error": str(exc)}, 503)

    def attach(sub: Submission) -> WorkOrder:
        return store.attach(
            number, sha256=stored.sha256, kind=kind, mime=stored.mime, size=stored.size,
            position=position, actor=person, submission=sub,
        )  # fmt: skip

    return _run(number, person, attach, raw)


def _run(number: str, person: Principal, change: Any, raw: dict[str, Any]) -> Response:
    """One change with its submission: the answers the phone's queue understands."""
    try:
        sub = _submission(raw, number)
        order = change(sub)
    except AlreadyApplied as exc:
        order = _api().store.get(number)
        return _json(
            {
                "ok": True,
                "replayed": True,
                "message": str(exc),
                "version": exc.version,
                "order": _full(order, person),
            }
        )
    except OrderConflict as exc:
        order = _api().store.get(number)
        return _json({"error": str(exc), "conflict": True, "order": _full(order, person)}, 409)
    except (PermissionDenied, AuthError) as exc:
        return _json({"error": str(exc)}, 403)  # the store has audited it
    except StorageError as exc:
        return _json({"error": str(exc)}, 503)
    except (WorkOrderError, ConfigError) as exc:
        return _json({"error": str(exc)}, 422)
    return _json({"ok": True, "version": order.version, "order": _full(order, person)})


def _file(sha256: str) -> Response:
    person = access.current_principal()
    api = _api()
    try:
        sites = api.store.attachment_sites(sha256) if len(sha256) == 64 else set()
    except FacilityError as exc:
        return _json({"error": str(exc)}, 503)
    if not sites or not any(person.sees(s) for s in sites) or not person.can(Permission.VIEW):
        return _refuse(person, f"file:{sha256[:64]}", "no such file in your estates", 404)
    try:
        data = api.files.read(sha256)
    except (StorageError, AttachmentError) as exc:
        return _json({"error": str(exc)}, 503)
    response = flask.make_response(data)
    response.mimetype = sniff_image(data) or "application/octet-stream"
    response.headers["Cache-Control"] = "private, max-age=86400, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
