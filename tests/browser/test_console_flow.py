"""Browser test in real Chromium: staff login → search → customer 360 page."""

import os
import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(live_server):
    if not shutil.which(CHROMIUM):
        if os.environ.get("GRIDCARE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is required for browser tests (GRIDCARE_REQUIRE_BROWSER=1)")
        pytest.skip("Chromium not installed")
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    browser = pw.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--no-first-run", "--disable-sync"],
    )
    context = browser.new_context(locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(15000)
    yield pg
    context.close()
    browser.close()
    pw.stop()
    from django.db import connections

    connections.close_all()  # the live server thread's connection would keep the PostgreSQL test DB busy


def test_login_search_customer_page(page, live_server, world):
    page.goto(f"{live_server.url}/")
    # anonymous users land on the login page
    assert "/login/" in page.url
    page.fill("#username", "a_clerk")
    page.fill("#password", "wrong-password")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text().strip() == "用户名或密码错误"
    page.fill("#username", "a_clerk")
    page.fill("#password", world.password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=whoami]")
    assert "营业员" in page.inner_text("[data-testid=whoami]")

    page.fill("#id_q", "3100000001")
    page.click("form[role=search] button[type=submit]")
    results = page.locator("[data-testid=results]")
    assert "3100000001" in results.inner_text()
    assert "3200000001" not in results.inner_text()  # another bureau's account stays invisible
    results.get_by_role("link", name="张*").click()

    page.wait_for_selector("[data-testid=customer-name]")
    assert "张*" in page.inner_text("[data-testid=customer-name]")
    assert page.inner_text("[data-testid=phone]").startswith("138****5678")
    assert "东关镇人民路18号" in page.inner_text("[data-testid=account-3100000001]")
    # unmasking is possible for a counter clerk and shows up in the timeline as an audited view
    page.click("[data-testid=reveal]")
    page.wait_for_selector("[data-testid=timeline]")
    assert page.inner_text("[data-testid=phone]").startswith("13812345678")
    assert "customer.view_pii" in page.inner_text("[data-testid=timeline]")
