"""The dashboard's permission table (dashboards.access) against the app's real callbacks."""

from __future__ import annotations

import pytest

from dashboards import access
from dashboards.app import create_app
from dashboards.auth import local_next
from facility.config import Settings
from maintenance.identity.roles import Permission


def test_the_table_covers_exactly_the_apps_callbacks() -> None:
    app = create_app(Settings())
    # Dash adds the page router on its first request; the sign-in form needs no database
    assert app.server.test_client().get("/login").status_code == 200
    callbacks = set(app.callback_map)
    table = set(access.CALLBACK_PERMISSIONS)
    assert callbacks - table == set(), "callbacks without an entry in dashboards/access.py"
    assert table - callbacks == set(), "entries in dashboards/access.py without a callback"
    # the browser-only ones are exactly the clientside callbacks
    clientside = {k for k, v in app.callback_map.items() if "callback" not in v}
    assert {k for k, v in access.CALLBACK_PERMISSIONS.items() if v is None} == clientside


def test_the_acknowledge_callback_needs_alarm_ack() -> None:
    key = access.outputs_key(("ack-result", "children"))
    assert access.callback_permission(key) is Permission.ALARM_ACK


@pytest.mark.parametrize(
    ("path", "needed"),
    [
        ("/", Permission.VIEW),
        ("/alarms", Permission.VIEW),
        ("/asset/HT-PMP-001", Permission.VIEW),
        ("/kpi", Permission.REPORTS),
        ("/kpi/", Permission.REPORTS),
        ("//kpi", Permission.REPORTS),
        ("/kpis", Permission.VIEW),  # not the KPI page (Dash answers 404)
    ],
)
def test_page_permissions(path: str, needed: Permission) -> None:
    assert access.page_permission(path) is needed


@pytest.mark.parametrize(
    ("target", "followed"),
    [
        ("/alarms", "/alarms"),
        ("/workorders?number=WO-HT-2026-00001", "/workorders?number=WO-HT-2026-00001"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
        (None, "/"),
        ("/a\r\nSet-Cookie: x=1", "/"),
    ],
)
def test_sign_in_follows_only_local_next(target: str | None, followed: str) -> None:
    assert local_next(target) == followed
