"""Headless Chromium runs here: it loads a page from a loopback server and reads the DOM."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import psutil
import pytest
from playwright.sync_api import Page

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Facility</title></head>
<body>
  <h1 id="title">华庭 Huating</h1>
  <span id="status">loading</span>
  <script>document.getElementById("status").textContent = "ready: " + (6 * 7);</script>
</body></html>
"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site_url(tmp_path: Path) -> Iterator[str]:
    """A tiny static site on a free loopback port, served from a thread."""
    (tmp_path / "index.html").write_text(PAGE, encoding="utf-8")
    handler = partial(QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="static-site")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_headless_chromium_loads_a_page_and_runs_its_script(
    browser_page: Page, site_url: str
) -> None:
    response = browser_page.goto(site_url)

    assert response is not None
    assert response.status == 200
    assert browser_page.title() == "Facility"
    assert browser_page.text_content("#title") == "华庭 Huating"
    assert browser_page.text_content("#status") == "ready: 42"


def test_chromium_runs_with_the_closed_network_flags_and_a_fresh_profile(
    browser_page: Page, chromium_args: list[str]
) -> None:
    browser_page.set_content("<p id=x>ok</p>")
    assert browser_page.text_content("#x") == "ok"

    chromium = [
        p.cmdline()
        for p in psutil.Process(os.getpid()).children(recursive=True)
        if "chromium" in p.name() and not any(a.startswith("--type=") for a in p.cmdline())
    ]
    assert len(chromium) == 1, chromium
    args = chromium[0]
    assert set(chromium_args) <= set(args)
    profiles = [a.split("=", 1)[1] for a in args if a.startswith("--user-data-dir=")]
    assert len(profiles) == 1
    assert "playwright" in Path(profiles[0]).name
