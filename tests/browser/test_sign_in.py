"""Signing in to the dashboard in headless Chromium, as each demo role (issue 11): what each
person sees, what the server refuses them, a wrong password, a session that has ended."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from dashboards import ids
from dashboards.app import DashboardServer
from dashboards.auth import SESSION_COOKIE
from dashboards.queries import Queries
from dashboards.sample import seed_other_estate, seed_sql, seed_users
from devtools.services import MosquittoServer
from facility.config import DatabaseConfig, MqttConfig, Settings
from maintenance.identity.roles import ROLE_PERMISSIONS, Permission, Role
from maintenance.identity.store import UserStore


@dataclass
class Served:
    url: str
    db_url: str
    users: dict[str, tuple[str, str]]
    alarm_ids: list[str]
    ht_orders: list[str]
    ju_order: str


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, mosquitto: MosquittoServer
) -> Iterator[Served]:
    db_path: Path = tmp_path_factory.mktemp("dash-sign-in") / "facility.db"
    settings = Settings(
        database=DatabaseConfig(url=f"sqlite:///{db_path}"), mqtt=MqttConfig(url=mosquitto.url)
    )
    alarm_ids, numbers = seed_sql(settings.database_url)
    ju_order = seed_other_estate(settings.database_url)
    users = seed_users(settings.database_url)
    queries = Queries(settings, ack_timeout_s=1.0)
    server = DashboardServer(settings, "127.0.0.1", 0, queries=queries, threads=4).start()
    try:
        yield Served(server.url, settings.database_url, users, alarm_ids, numbers, ju_order)
    finally:
        server.stop()


def _id(component_id: str) -> str:
    return "#" + component_id


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_each_role_signs_in_and_sees_its_name_and_its_pages(
    sign_in_as: Callable[..., Page], served: Served, role: str
) -> None:
    page = sign_in_as(served.url, served.users[role], "/alarms")
    expect(page.locator(_id(ids.USER_BADGE))).to_contain_text(f"Demo {role}")
    expect(page.locator(_id(ids.USER_BADGE))).to_contain_text(role)
    expect(page.locator("h1")).to_have_text("Active alarms")
    kpi = page.locator(_id(ids.nav_link("kpi")))
    if Permission.REPORTS in ROLE_PERMISSIONS[Role(role)]:
        expect(kpi).to_be_visible()
    else:
        expect(kpi).to_be_hidden()
        # the page itself refuses, not only the link
        response = page.goto(served.url + "/kpi")
        assert response is not None
        assert response.status == 403
        expect(page.locator("h1")).to_contain_text("Not allowed")


def test_a_ju_technician_does_not_see_ht_orders(
    sign_in_as: Callable[..., Page], served: Served
) -> None:
    page = sign_in_as(served.url, served.users["technician"], "/workorders")
    listing = page.locator(_id(ids.WO_LIST))
    expect(listing).to_contain_text(served.ju_order)
    for number in served.ht_orders:
        expect(listing).not_to_contain_text(number)
    page.goto(f"{served.url}/workorders?number={served.ht_orders[0]}")
    expect(page.locator(_id(ids.WO_DETAIL))).to_contain_text("not found, or not in your estates")


def test_a_viewers_acknowledge_is_refused_by_the_server(
    sign_in_as: Callable[..., Page], served: Served
) -> None:
    page = sign_in_as(served.url, served.users["viewer"], "/alarms")
    alarm_id = served.alarm_ids[0]
    expect(page.locator(f'tr[data-alarm="{alarm_id}"]')).to_be_visible()
    page.locator(f'tr[data-alarm="{alarm_id}"] input[type=checkbox]').check()
    button = page.locator(_id(ids.ACK_BUTTON))
    expect(button).to_be_hidden()  # a courtesy; the server is the check:
    page.evaluate(
        "document.querySelectorAll('.action-group').forEach(g => g.style.display = 'flex')"
    )
    button.click()
    expect(page.locator("#server-refusal")).to_contain_text("alarm.ack")
    expect(page.locator(_id(ids.ACK_RESULT))).to_be_empty()
    with UserStore(served.db_url) as store:
        refused = store.audit_log(action="refused", actor=served.users["viewer"][0], limit=5)
    assert any(e.entity == "callback:ack-result.children" for e in refused)


def test_a_wrong_password_shows_the_message(browser_page: Page, served: Served) -> None:
    browser_page.goto(served.url + "/alarms")
    expect(browser_page).to_have_url(re.compile(r"/login\?next=/alarms"))
    browser_page.locator("#username").fill(served.users["operator"][0])
    browser_page.locator("#password").fill("not-the-password")
    browser_page.locator("#login-button").click()
    expect(browser_page.get_by_role("alert")).to_contain_text("wrong user name or password")
    expect(browser_page.locator("#username")).to_have_value(served.users["operator"][0])


def test_an_ended_session_goes_back_to_the_login_form(
    sign_in_as: Callable[..., Page], served: Served
) -> None:
    page = sign_in_as(served.url, served.users["operator"], "/")
    expect(page.locator(_id(ids.USER_BADGE))).to_be_visible()
    token = next(c["value"] for c in page.context.cookies() if c["name"] == SESSION_COOKIE)
    with UserStore(served.db_url) as store:  # as an admin disabling them, or a timeout, would
        assert store.revoke(token)
    # the overview's next 2 s tick is refused (401): the page goes to the sign-in form
    expect(page).to_have_url(re.compile(r"/login\?next=%2F"), timeout=10_000)
    expect(page.locator("#login-button")).to_be_visible()


def test_sign_out_button_ends_the_session(sign_in_as: Callable[..., Page], served: Served) -> None:
    page = sign_in_as(served.url, served.users["manager"], "/kpi")
    expect(page.locator(_id(ids.KPI_TABLE))).to_contain_text("Huating (HT)")
    page.locator(_id(ids.LOGOUT_BUTTON)).click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(served.url + "/kpi")
    expect(page).to_have_url(re.compile(r"/login\?next="))
