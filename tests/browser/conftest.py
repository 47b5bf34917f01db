"""Real Chromium (Debian's /usr/bin/chromium) driven by Playwright, one browser per test."""

import os
import shutil

import pytest
from django.db import connections

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture
def browser_context_args():
    return {"locale": "zh-CN"}


@pytest.fixture
def browser_page(live_server, browser_context_args):
    """A page in a fresh headless Chromium; skips without Chromium unless GRIDCARE_REQUIRE_BROWSER=1."""
    if not shutil.which(CHROMIUM):
        if os.environ.get("GRIDCARE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is required for browser tests (GRIDCARE_REQUIRE_BROWSER=1)")
        pytest.skip("Chromium not installed")
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()
    browser.close()
    # While Playwright's sync API runs, Django hands out another connection; close it, or PostgreSQL
    # refuses to drop the test database at the end.
    connections.close_all()
    pw.stop()
