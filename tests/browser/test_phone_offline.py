"""The phone in a basement without signal (issue 13), with Chromium's offline emulation: the
order page opens from the service worker and the kept order, the checklist is worked and a
photo attached with the network cut, and when it returns the queue syncs in order, exactly
once; a change the supervisor made meanwhile is shown as a conflict, not overwritten."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from devtools.services import MosquittoServer
from maintenance.wo_store import LogNotifier, WorkOrderStore
from tests.browser.conftest import PAGE_TIMEOUT_MS, sign_in
from tests.browser.test_phone import PHONE
from tests.phone_support import Served, png, serve_phone


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, mosquitto: MosquittoServer
) -> Iterator[Served]:
    with serve_phone(tmp_path_factory.mktemp("phone-offline"), mosquitto.url) as found:
        yield found


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    found = browser.new_context(**PHONE)  # type: ignore[arg-type]
    found.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        yield found
    finally:
        found.close()


def count(served: Served, number: str, action: str) -> int:
    with WorkOrderStore(served.db_url, notifier=LogNotifier()) as store:
        return sum(1 for e in store.get(number).events if e.action == action)


def test_worked_offline_synced_once_and_a_conflict_shown(
    context: BrowserContext, served: Served, tmp_path: Path
) -> None:
    seed = served.seed
    page = context.new_page()
    sign_in(page, served.url, seed.users["technician"], "/m/")
    page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller")
    expect(page.locator(f"[data-number='{seed.pm}']")).to_be_visible()
    # both orders read once online (kept on the phone), the PM order started
    page.goto(f"{served.url}/m/order/{seed.corrective}")
    expect(page.locator("#ph-start")).to_be_visible()
    page.goto(f"{served.url}/m/order/{seed.pm}")
    page.locator("#ph-start").tap()
    expect(page.locator("#ph-state")).to_have_text("in_progress")
    expect(page.locator("#ph-queue")).to_have_text("")

    context.set_offline(True)
    page.reload()  # the shell from the service worker, the order from the phone's copy
    expect(page.locator("#ph-net")).to_contain_text("offline")
    expect(page.locator("#ph-pass-1")).to_be_visible()
    page.locator("#ph-pass-1").tap()
    page.locator("#ph-value-2").fill("12.5")
    page.locator("#ph-save-2").tap()
    page.locator("#ph-value-3").fill("2040")
    page.locator("#ph-save-3").tap()
    photo = tmp_path / "basement.png"
    photo.write_bytes(png(640, 480))
    page.locator("#ph-photo-5").set_input_files(str(photo))
    expect(page.locator("#ph-item-5 .ph-answer")).to_contain_text("waiting to sync")
    # the other order, worked offline while the supervisor hands it to someone else
    page.goto(f"{served.url}/m/order/{seed.corrective}")
    page.locator("#ph-start").tap()
    expect(page.locator("#ph-queue")).to_have_text("5 to sync · 待同步")
    assert count(served, seed.pm, "recorded") == 0  # nothing left the phone
    with WorkOrderStore(served.db_url, notifier=LogNotifier()) as store:
        store.assign(seed.corrective, "tech2.ju", actor="supervisor")

    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#ph-queue")).to_have_text("", timeout=20_000)
    conflict = page.locator("#ph-problems .ph-problem[data-state='conflict']")
    expect(conflict).to_contain_text(seed.corrective)
    expect(conflict).to_contain_text("assigned to tech2.ju")
    expect(conflict).to_contain_text("was not applied")
    assert count(served, seed.pm, "recorded") == 3  # each answer once
    assert count(served, seed.pm, "attached") == 1
    with WorkOrderStore(served.db_url, notifier=LogNotifier()) as store:
        pm = store.get(seed.pm)
        corrective = store.get(seed.corrective)
    assert [line.answered for line in pm.checklist] == [True, True, True, False, True]
    assert corrective.assignee == "tech2.ju"  # the supervisor's change stands
    assert corrective.state.value == "assigned"
    # the phone syncing again (a reload, the next timer) sends nothing twice
    page.reload()
    expect(page.locator("#ph-queue")).to_have_text("")
    assert count(served, seed.pm, "recorded") == 3
