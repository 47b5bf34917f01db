"""Browser test in real Chromium: repeated failed logins lock a clerk out (the page never says so); the
administrator unlocks the account from the console; the clerk logs in."""

import pytest
from django.conf import settings

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MESSAGE = "用户名或密码错误，或账号已暂时锁定，请稍后再试"


def _login(page, base, username, password):
    page.goto(f"{base}/login/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")


def test_lock_unlock_login(browser_page, live_server, world):
    page, base = browser_page, live_server.url
    for _ in range(settings.GRIDCARE["LOGIN_MAX_FAILURES"]):
        _login(page, base, "a_clerk", "wrong-password")
        assert page.locator("[role=alert]").inner_text().strip() == MESSAGE
    _login(page, base, "a_clerk", world.password)  # the right password, now locked: the same answer
    assert page.locator("[role=alert]").inner_text().strip() == MESSAGE

    _login(page, base, world.admin.username, world.password)
    page.wait_for_selector("[data-testid=whoami]")
    page.get_by_role("link", name="账号解锁").click()
    row = page.locator(f"tr[data-user='{world.a_clerk.pk}']")
    assert "a_clerk" in row.inner_text()
    row.get_by_role("button", name="解锁").click()
    page.wait_for_selector(".messages")
    assert "已解锁账号 a_clerk" in page.inner_text(".messages")
    assert page.locator(f"tr[data-user='{world.a_clerk.pk}']").count() == 0
    page.click("form[action='/logout/'] button")

    _login(page, base, "a_clerk", world.password)
    page.wait_for_selector("[data-testid=whoami]")
    assert "营业员" in page.inner_text("[data-testid=whoami]")
