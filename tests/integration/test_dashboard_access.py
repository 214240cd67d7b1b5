"""The dashboard checks every request on the server: raw HTTP against the real app served by
waitress, over a real SQLite database and mosquitto (issue 11).

No browser here: the requests are what anyone could send with curl — a forged callback, a
stolen-looking cookie, a cross-site POST without the CSRF token. Each must be refused and
each refusal must be in the audit trail.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from dashboards import access, ids
from dashboards.app import DashboardServer
from dashboards.auth import CSRF_COOKIE, SESSION_COOKIE
from dashboards.queries import Queries
from dashboards.sample import seed_other_estate, seed_sql, seed_users
from devtools.services import MosquittoServer
from facility.config import DatabaseConfig, MqttConfig, Settings
from maintenance.identity.roles import ROLE_PERMISSIONS, Permission, Role
from maintenance.identity.store import UserStore

ROLES = [r.value for r in Role]


@dataclass
class Served:
    url: str
    db_url: str
    users: dict[str, tuple[str, str]]
    alarm_ids: list[str]
    ht_orders: list[str]
    ju_order: str
    callbacks: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, mosquitto: MosquittoServer
) -> Iterator[Served]:
    db_path: Path = tmp_path_factory.mktemp("dash-access") / "facility.db"
    settings = Settings(
        database=DatabaseConfig(url=f"sqlite:///{db_path}"), mqtt=MqttConfig(url=mosquitto.url)
    )
    alarm_ids, numbers = seed_sql(settings.database_url)
    ju_order = seed_other_estate(settings.database_url)
    users = seed_users(settings.database_url)
    queries = Queries(settings, ack_timeout_s=1.0)
    server = DashboardServer(settings, "127.0.0.1", 0, queries=queries, threads=4).start()
    try:
        # Dash adds the page router on its first request
        Client(server.url).get("/_dash-dependencies")
        callbacks = dict(server.app.callback_map)
        yield Served(
            server.url, settings.database_url, users, alarm_ids, numbers, ju_order, callbacks
        )
    finally:
        server.stop()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Client:
    """A cookie-keeping HTTP client, no more: what a script (or an attacker) would use."""

    url: str
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        try:
            sent = dict(headers or {})
            if self.cookies:
                sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            for value in response.headers.get_all("Set-Cookie") or []:
                jar: SimpleCookie = SimpleCookie(value)
                for key, morsel in jar.items():
                    if morsel.value:
                        self.cookies[key] = morsel.value
                    else:
                        self.cookies.pop(key, None)
            return Reply(response.status, dict(response.headers.items()), text)
        finally:
            conn.close()

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return self.request("GET", path, headers=headers)

    def post_form(self, path: str, fields: dict[str, str]) -> Reply:
        body = urlencode(fields).encode()
        return self.request(
            "POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"}
        )

    def login(self, name: str, password: str, next_path: str = "/") -> Reply:
        form = self.get("/login")
        assert form.status == 200
        return self.post_form(
            "/login",
            {
                "csrf_token": self.cookies[CSRF_COOKIE],
                "next": next_path,
                "username": name,
                "password": password,
            },
        )

    def callback(self, body: dict[str, Any], *, csrf: str | None = None) -> Reply:
        headers = {"Content-Type": "application/json"}
        token = self.cookies.get(CSRF_COOKIE) if csrf is None else csrf
        if token:
            headers["X-CSRFToken"] = token
        return self.request("POST", "/_dash-update-component", json.dumps(body).encode(), headers)


def callback_body(callbacks: dict[str, dict[str, Any]], key: str, **values: Any) -> dict[str, Any]:
    """The request Dash's renderer would send for callback ``key`` (every input None unless
    given as ``component_id__property=value``)."""
    spec = callbacks[key]
    names = key.strip(".").split("...") if key.startswith("..") else [key]
    outputs = [{"id": n.rsplit(".", 1)[0], "property": n.rsplit(".", 1)[1]} for n in names]

    def item(dep: dict[str, Any]) -> dict[str, Any]:
        value = values.get(f"{dep['id']}__{dep['property']}".replace("-", "_"))
        return {"id": dep["id"], "property": dep["property"], "value": value}

    inputs = [item(d) for d in spec["inputs"]]
    return {
        "output": key,
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": inputs,
        "changedPropIds": [f"{d['id']}.{d['property']}" for d in spec["inputs"][:1]],
        "state": [item(d) for d in spec["state"]],
    }


def signed_in(served: Served, role: str) -> Client:
    client = Client(served.url)
    name, password = served.users[role]
    reply = client.login(name, password)
    assert reply.status == 303, reply.body[:300]
    assert SESSION_COOKIE in client.cookies
    return client


def audit_count(served: Served, action: str = "refused") -> int:
    with UserStore(served.db_url) as store:
        return len(store.audit_log(action=action, limit=10_000))


def last_refusal(served: Served) -> Any:
    with UserStore(served.db_url) as store:
        return store.audit_log(action="refused", limit=1)[0]


# -- sign-in -----------------------------------------------------------------------------------


def test_every_page_sends_an_anonymous_visitor_to_the_login_form(served: Served) -> None:
    client = Client(served.url)
    for path in ("/", "/alarms", "/workorders", "/asset/HT-PMP-001", "/kpi"):
        reply = client.get(path)
        assert reply.status == 302, path
        assert reply.headers["Location"].startswith("/login?next="), reply.headers
    reply = client.get("/_dash-layout")
    assert reply.status == 401
    assert reply.json()["login"] == "/login"
    form = client.get("/login")
    assert form.status == 200
    assert 'name="password"' in form.body
    assert "登录" in form.body


def test_sign_in_sets_a_httponly_samesite_session_cookie_and_redirects_locally(
    served: Served,
) -> None:
    client = Client(served.url)
    client.get("/login")
    name, password = served.users["viewer"]
    reply = client.post_form(
        "/login",
        {
            "csrf_token": client.cookies[CSRF_COOKIE],
            "next": "/alarms",
            "username": name,
            "password": password,
        },
    )
    assert reply.status == 303
    assert reply.headers["Location"] == "/alarms"
    cookie_lines = [v for k, v in _raw_headers(served, client, name, password) if k == "set-cookie"]
    session_line = next(v for v in cookie_lines if v.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in session_line
    assert "SameSite=Lax" in session_line
    assert "Path=/" in session_line
    csrf_line = next(v for v in cookie_lines if v.startswith(CSRF_COOKIE + "="))
    assert "HttpOnly" not in csrf_line  # Dash's renderer must read it
    assert client.get("/alarms").status == 200
    # an off-site "next" is not followed
    other = Client(served.url)
    other.get("/login")
    reply = other.post_form(
        "/login",
        {
            "csrf_token": other.cookies[CSRF_COOKIE],
            "next": "//evil.example/x",
            "username": name,
            "password": password,
        },
    )
    assert reply.status == 303
    assert reply.headers["Location"] == "/"


def _raw_headers(served: Served, client: Client, name: str, password: str) -> list[tuple[str, str]]:
    """The sign-in's raw Set-Cookie headers (the cookie jar above keeps only values)."""
    parts = urlsplit(served.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        conn.request("GET", "/login")
        first = conn.getresponse()
        first.read()
        csrf = re.search(r"_csrf_token=([^;]+)", first.headers["Set-Cookie"])
        assert csrf is not None
        body = urlencode(
            {"csrf_token": csrf[1], "next": "/", "username": name, "password": password}
        )
        conn.request(
            "POST",
            "/login",
            body=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"{CSRF_COOKIE}={csrf[1]}",
            },
        )
        response = conn.getresponse()
        response.read()
        return [(k.lower(), v) for k, v in response.getheaders()]
    finally:
        conn.close()


def test_a_wrong_password_gets_the_generic_message_and_is_counted(served: Served) -> None:
    client = Client(served.url)
    name, _password = served.users["manager"]
    before = audit_count(served, "login_failed")
    reply = client.login(name, "not-the-password-1")
    assert reply.status == 401
    assert "wrong user name or password" in reply.body
    assert SESSION_COOKIE not in client.cookies
    unknown = client.login("nobody.here", "not-the-password-1")
    assert unknown.status == 401
    # the same words for an unknown name: the form does not say which was wrong
    assert re.sub(r"value=\"[^\"]*\"", "", unknown.body).count("wrong user name or password") == 1
    assert audit_count(served, "login_failed") == before + 2


def test_a_500k_character_user_name_is_refused_and_its_audit_entry_bounded(
    served: Served,
) -> None:
    client = Client(served.url)
    reply = client.login("x" * 500_000, "whatever-password")
    assert reply.status == 401
    assert len(reply.body) < 10_000  # the form does not echo it back
    with UserStore(served.db_url) as store:
        entry = store.audit_log(action="login_failed", limit=1)[0]
    assert entry.actor.startswith("xxxx")
    assert len(entry.actor) <= 100


def test_login_without_its_csrf_token_is_refused(served: Served) -> None:
    client = Client(served.url)
    client.get("/login")
    name, password = served.users["viewer"]
    before = audit_count(served)
    reply = client.post_form(
        "/login", {"csrf_token": "forged", "next": "/", "username": name, "password": password}
    )
    assert reply.status == 403
    assert SESSION_COOKIE not in client.cookies
    assert audit_count(served) == before + 1


def test_sign_out_ends_the_session_on_the_server(served: Served) -> None:
    client = signed_in(served, "viewer")
    token = client.cookies[SESSION_COOKIE]
    # a cross-site form without the session's CSRF token cannot sign anyone out
    assert client.post_form("/logout", {"csrf_token": "forged"}).status == 403
    assert client.get("/alarms").status == 200
    reply = client.post_form("/logout", {"csrf_token": client.cookies[CSRF_COOKIE]})
    assert reply.status == 303
    assert reply.headers["Location"] == "/login"
    assert SESSION_COOKIE not in client.cookies
    # the old cookie, replayed, is worth nothing
    replay = Client(served.url, {SESSION_COOKIE: token})
    assert replay.get("/alarms").status == 302


# -- forged and tampered requests --------------------------------------------------------------


def test_the_anonymous_acknowledge_post_is_refused_and_recorded(served: Served) -> None:
    """Issue 11: one HTTP POST acknowledged an alarm as a made-up name. Not any more."""
    body = callback_body(
        served.callbacks,
        access.outputs_key((ids.ACK_RESULT, "children")),
        ack_button__n_clicks=1,
        console_selected__data=[served.alarm_ids[0]],
    )
    before = audit_count(served)
    reply = Client(served.url).callback(body)
    assert reply.status == 401
    assert "acknowledged" not in reply.body.lower()
    assert audit_count(served) == before + 1
    entry = last_refusal(served)
    assert entry.actor == "anonymous"
    assert entry.source == "dashboard"
    assert entry.remote == "127.0.0.1"


def test_a_callback_without_the_csrf_header_is_refused(served: Served) -> None:
    client = signed_in(served, "operator")
    body = callback_body(served.callbacks, access.outputs_key((ids.LANG, "data")))
    before = audit_count(served)
    assert client.callback(body, csrf="").status == 403
    assert client.callback(body, csrf="forged-token").status == 403
    assert audit_count(served) == before + 2
    assert last_refusal(served).actor == served.users["operator"][0]
    assert client.callback(body).status == 200  # with the session's token it runs


def test_a_tampered_session_cookie_is_refused(served: Served) -> None:
    client = signed_in(served, "supervisor")
    token = client.cookies[SESSION_COOKIE]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    forged = Client(
        served.url, {SESSION_COOKIE: tampered, CSRF_COOKIE: client.cookies[CSRF_COOKIE]}
    )
    assert forged.get("/").status == 302
    body = callback_body(served.callbacks, access.outputs_key((ids.LANG, "data")))
    before = audit_count(served)
    assert forged.callback(body).status == 401
    assert audit_count(served) == before + 1
    oversized = Client(served.url, {SESSION_COOKIE: "x" * 5000})
    assert oversized.get("/alarms").status == 302


def test_an_unknown_or_browser_only_callback_is_refused(served: Served) -> None:
    client = signed_in(served, "supervisor")
    before = audit_count(served)
    forged = {"output": "secret-panel.children", "outputs": {"id": "x", "property": "y"},
              "inputs": [], "changedPropIds": [], "state": []}  # fmt: skip
    assert client.callback(forged).status == 403
    clientside = callback_body(served.callbacks, access.outputs_key((ids.LIVE_RENDERED, "title")))
    assert client.callback(clientside).status == 403
    nested = client.request(
        "POST",
        "/_dash-update-component",
        b"[" * 200_000,
        {"Content-Type": "application/json", "X-CSRFToken": client.cookies[CSRF_COOKIE]},
    )
    assert nested.status == 400
    assert audit_count(served) == before + 3


# -- the table: every callback and page × every role ----------------------------------------


def _expected(role: str, needed: Permission) -> bool:
    return needed in ROLE_PERMISSIONS[Role(role)]


def test_callback_by_role_table(served: Served) -> None:
    """Every server callback of the app, asked by every role: allowed exactly when the
    role holds the callback's permission; each refusal audited."""
    clients = {role: signed_in(served, role) for role in ROLES}
    server_side = {k: v for k, v in served.callbacks.items() if "callback" in v}
    table: list[tuple[str, str, int]] = []
    for key in server_side:
        needed = access.CALLBACK_PERMISSIONS[key]
        assert needed is not None, key
        values: dict[str, Any] = {}
        if key == access.ROUTER:
            values["_pages_location__pathname"] = "/alarms"
        for role, client in clients.items():
            before = audit_count(served)
            reply = client.callback(callback_body(served.callbacks, key, **values))
            table.append((key[:50], role, reply.status))
            if _expected(role, needed):
                assert reply.status in (200, 204), (key, role, reply.status, reply.body[:300])
                assert audit_count(served) == before
            else:
                assert reply.status == 403, (key, role, reply.status)
                assert audit_count(served) == before + 1
                entry = last_refusal(served)
                assert entry.actor == served.users[role][0]
                assert entry.entity == f"callback:{key}"
    for row in table:
        print(*row)


@pytest.mark.parametrize("role", ROLES)
def test_page_by_role_table(served: Served, role: str) -> None:
    client = signed_in(served, role)
    for path in ("/", "/alarms", "/workorders", "/asset", "/asset/HT-PMP-001", "/kpi"):
        needed = access.page_permission(path)
        before = audit_count(served)
        page = client.get(path)
        router = client.callback(
            callback_body(served.callbacks, access.ROUTER, _pages_location__pathname=path)
        )
        if _expected(role, needed):
            assert page.status == 200, (path, role)
            assert router.status == 200, (path, role, router.body[:300])
            assert audit_count(served) == before
        else:
            assert page.status == 403, (path, role)
            assert "Not allowed" in page.body
            assert router.status == 403, (path, role)
            assert audit_count(served) == before + 2


# -- what each person is shown -----------------------------------------------------------------


def _router_text(client: Client, served: Served, path: str, search: str = "") -> str:
    reply = client.callback(
        callback_body(
            served.callbacks,
            access.ROUTER,
            _pages_location__pathname=path,
            _pages_location__search=search,
        )
    )
    assert reply.status == 200, reply.body[:300]
    return reply.body


def test_a_ju_technician_sees_ju_orders_and_none_of_ht(served: Served) -> None:
    tech = signed_in(served, "technician")
    listing = _router_text(tech, served, "/workorders")
    assert served.ju_order in listing
    for number in served.ht_orders:
        assert number not in listing
    detail = _router_text(tech, served, "/workorders", f"?number={served.ht_orders[0]}")
    assert "not found, or not in your estates" in detail
    assert "Drain pump" not in detail
    alarms = _router_text(tech, served, "/alarms")
    assert all(a not in alarms for a in served.alarm_ids)
    asset = _router_text(tech, served, "/asset/HT-PDP-001")
    assert "not in your estates" in asset
    assert served.ht_orders[0] not in asset
    overview = _router_text(tech, served, "/")
    assert "HT-PMP-001" not in overview
    assert "JU-PMP-001" in overview
    # someone of every estate sees both
    supervisor = signed_in(served, "supervisor")
    listing = _router_text(supervisor, served, "/workorders")
    assert served.ju_order in listing
    assert served.ht_orders[0] in listing


def test_a_viewer_cannot_acknowledge_and_the_refusal_is_recorded(served: Served) -> None:
    viewer = signed_in(served, "viewer")
    body = callback_body(
        served.callbacks,
        access.outputs_key((ids.ACK_RESULT, "children")),
        ack_button__n_clicks=1,
        console_selected__data=[served.alarm_ids[0]],
    )
    before = audit_count(served)
    reply = viewer.callback(body)
    assert reply.status == 403
    assert "alarm.ack" in reply.body
    assert audit_count(served) == before + 1


def test_the_header_names_the_signed_in_person_and_hides_pages_they_cannot_open(
    served: Served,
) -> None:
    viewer = signed_in(served, "viewer")
    layout = viewer.get("/_dash-layout")
    assert layout.status == 200
    text = layout.body
    assert "Demo viewer" in text
    assert "viewer" in text
    kpi_style = re.search(r'"style":([^,]*),"id":"nav-kpi"', text)
    assert kpi_style is not None
    assert kpi_style[1] == '{"display":"none"}'
    manager = signed_in(served, "manager")
    kpi_style = re.search(r'"style":([^,]*),"id":"nav-kpi"', manager.get("/_dash-layout").body)
    assert kpi_style is not None
    assert kpi_style[1] == "null"


def test_make_demo_users_one_per_role_with_fresh_random_passwords(tmp_path: Path) -> None:
    from dashboards.sample import demo_user_passwords
    from facility.errors import AuthError
    from maintenance.identity.roles import Source

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    first = demo_user_passwords(url)
    assert sorted(first) == sorted(ROLES)
    again = demo_user_passwords(url)  # a second `make demo` prints new ones
    assert sorted(again) == sorted(ROLES)
    with UserStore(url) as store:
        assert store.user("tech.ju") is not None
        assert store.user("tech.ju").sites == frozenset({"JU"})  # type: ignore[union-attr]
        name, password = again["operator"]
        assert store.authenticate(name, password, source=Source.CLI).name == name
        with pytest.raises(AuthError):
            store.authenticate(name, first["operator"][1], source=Source.CLI)


async def test_the_acknowledge_reaches_the_engine_as_the_signed_in_person(
    served: Served, mosquitto: MosquittoServer
) -> None:
    """The alarm engine journals the signed-in operator's name: nobody types a name."""
    import asyncio

    from device_profiles import load_library
    from facility.mqtt import BrokerSettings
    from gateway.alarms.alarmfile import parse_alarm_file
    from gateway.alarms.definitions import compile_alarms
    from gateway.alarms.service import AlarmService
    from gateway.alarms.store import AlarmStore
    from maintenance.store import LedgerStore

    alarm_id = "HT-PDP-001/dry_run"  # seeded unacknowledged; the engine restores it
    with LedgerStore(served.db_url) as ledger:
        assets = [a for a in ledger.assets() if a.asset_no == "HT-PDP-001"]
    alarm_set = compile_alarms(
        assets, load_library(), parse_alarm_file("supervisors: []\n", "a.yaml")
    )
    service = AlarmService(
        alarm_set, BrokerSettings.from_url(mosquitto.url), AlarmStore(served.db_url),
        service_id="test-dash-ack", tick_s=0.2,
    )  # fmt: skip
    ready = asyncio.Event()
    engine = asyncio.create_task(service.run(ready))
    try:
        await asyncio.wait_for(ready.wait(), 20)
        operator = signed_in(served, "operator")
        body = callback_body(
            served.callbacks,
            access.outputs_key((ids.ACK_RESULT, "children")),
            ack_button__n_clicks=1,
            console_selected__data=[alarm_id],
            ack_comment__value="on my way",
        )
        reply = await asyncio.to_thread(operator.callback, body)
        assert reply.status == 200, reply.body[:300]
        result = reply.json()["response"]["ack-result"]["children"]["props"]["children"]
        assert result[0]["props"]["children"] == f"Done · Acknowledge: {alarm_id}"
    finally:
        engine.cancel()
        await asyncio.gather(engine, return_exceptions=True)
    with AlarmStore(served.db_url) as store:
        acks = [r for r in store.journal(alarm_id=alarm_id) if r.kind.value == "ack"]
    assert [r.user for r in acks] == [served.users["operator"][0]]
    assert acks[0].comment == "on my way"
