"""Real Chromium (Debian's /usr/bin/chromium) driven by Playwright, one browser per test."""

import os
import shutil

import pytest
from django.db import connections

from tests.payments.channels.simulated import simulated  # noqa: F401 — the channel simulator on a free port

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


def _is_csp_violation(text: str) -> bool:
    return "Content Security Policy" in text or "Content-Security-Policy" in text


@pytest.fixture
def csp_violations() -> list[str]:
    """The Content-Security-Policy violations the test's pages logged (browser_page fails the test on any)."""
    return []


@pytest.fixture
def browser_page(live_server, browser_context_args, csp_violations):
    """A page in a fresh headless Chromium; skips without Chromium unless GRIDCARE_REQUIRE_BROWSER=1.

    The test fails if any page it opened broke the Content-Security-Policy (Chromium logs each refused inline
    script, style or handler on the console), so a new inline script or style= attribute shows up here."""
    if not shutil.which(CHROMIUM):
        if os.environ.get("GRIDCARE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is required for browser tests (GRIDCARE_REQUIRE_BROWSER=1)")
        pytest.skip("Chromium not installed")
    from playwright.sync_api import sync_playwright

    from tests.reference import ensure_reference_data

    ensure_reference_data()
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    page.set_default_timeout(15000)
    violations = csp_violations
    # Every page of the context, including pop-ups (receipts and PDFs open in new tabs).
    context.on(
        "console",
        lambda msg: (
            violations.append(f"{msg.page.url if msg.page else ''}: {msg.text}")
            if _is_csp_violation(msg.text)
            else None
        ),
    )
    yield page
    context.close()
    browser.close()
    # While Playwright's sync API runs, Django hands out another connection; close it, or PostgreSQL
    # refuses to drop the test database at the end.
    connections.close_all()
    pw.stop()
    if violations:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(violations), pytrace=False)
