"""Browser test in real Chromium: staff login → search → customer 360 page."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(browser_page):
    return browser_page


def test_login_search_customer_page(page, live_server, world):
    page.goto(f"{live_server.url}/")
    # anonymous users land on the login page
    assert "/login/" in page.url
    page.fill("#username", "a_clerk")
    page.fill("#password", "wrong-password")
    page.click("button[type=submit]")
    assert (
        page.locator("[role=alert]").inner_text().strip() == "用户名或密码错误，或账号已暂时锁定，请稍后再试"
    )
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
    assert "查看完整个人信息" in page.inner_text("[data-testid=timeline]")
