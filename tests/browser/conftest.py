"""Headless Chromium for browser tests: Debian's ``/usr/bin/chromium`` driven by Playwright.

``playwright install`` cannot download browsers here, so Playwright drives the Debian package
(PITFALLS.md). ``browser_page`` gives each test a page in a fresh browser context (own cookies
and storage); the browser itself is launched once per test module. The dashboard needs a
signed-in person: ``sign_in`` goes through the real /login form, as a person would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# --headless, and a fresh --user-data-dir in a temporary folder deleted on close, are added by
# Playwright itself (it refuses --user-data-dir in launch()). The other flags keep Chromium
# from calling home on a closed network (PITFALLS.md) and let it run as root in a container.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PAGE_TIMEOUT_MS = 10_000  # fail fast instead of Playwright's default 30 s per action
# expect() waits this long for what a page must come to show (5 s by default): a first Plotly
# draw after a cold InfluxDB query took longer than 5 s on a loaded 2-core machine
EXPECT_TIMEOUT_MS = 15_000
expect.set_options(timeout=EXPECT_TIMEOUT_MS)


@pytest.fixture(scope="session")
def chromium_args() -> list[str]:
    """The command-line flags every test browser is launched with."""
    return list(CHROMIUM_ARGS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium, launched once per test module."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def browser_page(browser: Browser) -> Iterator[Page]:
    """A page in a fresh browser context, closed after the test."""
    context = browser.new_context(locale="en-US", timezone_id="Asia/Shanghai")
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Page, base_url: str, user: tuple[str, str], next_path: str = "/") -> None:
    """Sign ``(name, password)`` in through the real /login form, then open ``next_path``."""
    name, password = user
    page.goto(f"{base_url}/login?next={next_path}")
    page.locator("#username").fill(name)
    page.locator("#password").fill(password)
    page.locator("#login-button").click()
    page.wait_for_url(f"{base_url}{next_path}")


@pytest.fixture
def sign_in_as(browser_page: Page) -> Callable[[str, tuple[str, str], str], Page]:
    """``sign_in_as(base_url, (name, password), next_path)``: the test's page, signed in
    (the users come from dashboards.sample.seed_users in the test's own database)."""

    def signed(base_url: str, user: tuple[str, str], next_path: str = "/") -> Page:
        sign_in(browser_page, base_url, user, next_path)
        return browser_page

    return signed
