"""Browser tests in real Chromium for the Content-Security-Policy: the guard in conftest.py sees violations,
and the pages not driven by the flow tests (the Swagger UI, the Django admin, the distribution charts) keep to
the policy. Every browser test fails on a violation (conftest.browser_page)."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _console_login(page, live_server, username, password, next_path="/"):
    page.goto(f"{live_server.url}/login/?next={next_path}")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")


def test_the_guard_sees_inline_styles_and_handlers(browser_page, live_server, csp_violations):
    page = browser_page
    page.goto(f"{live_server.url}/portal/")
    with page.expect_console_message(lambda m: "inline event handler" in m.text):
        page.evaluate(
            """() => document.body.insertAdjacentHTML("beforeend",
                '<div id="probe" style="color: red">x</div><img src="data:," onerror="window.handlerRan = 1">')"""
        )
    # The style attribute and the handler were both refused, and both are on the list the teardown checks.
    assert page.evaluate("() => document.getElementById('probe').style.color") == ""
    assert page.evaluate("() => window.handlerRan === undefined") is True
    assert any("inline style" in v for v in csp_violations)
    assert any("inline event handler" in v for v in csp_violations)
    csp_violations.clear()  # expected here; any other test fails on them


def test_swagger_ui_works_under_the_policy(browser_page, live_server):
    page = browser_page
    page.goto(f"{live_server.url}/api/v1/docs")
    # The schema of the whole API is generated on the first request: slow on a busy machine.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("GridCare API", timeout=60000)
    expect(page.locator(".opblock").first).to_be_visible()


def test_admin_pages_keep_to_the_policy(browser_page, live_server, world):
    world.admin.is_staff = True
    world.admin.save(update_fields=["is_staff"])
    page = browser_page
    _console_login(page, live_server, world.admin.username, world.password, next_path="/admin/")
    expect(page).to_have_url(re.compile(r"/admin/$"))
    for path in (
        "/admin/customers/feeder/",
        "/admin/customers/feeder/add/",
        "/admin/notify/noticetemplate/add/",
    ):
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("#content h1")).to_be_visible()


def test_distribution_charts_keep_to_the_policy(browser_page, live_server, world):
    page = browser_page
    _console_login(page, live_server, world.a_manager.username, world.password, next_path="/stats/")
    expect(page.locator("#chart-by_class canvas")).to_be_visible()
    # Show a tooltip as hovering would: ECharts' HTML tooltips carry style= markup the policy refuses; the page
    # renders them on the canvas (renderMode richText), so no tooltip element appears and nothing is refused.
    shown = page.evaluate(
        """() => {
            const chart = echarts.getInstanceByDom(document.getElementById("chart-by_class"));
            chart.dispatchAction({type: "showTip", seriesIndex: 0, dataIndex: 0});
            return chart.getOption().series[0].data.length;
        }"""
    )
    assert shown >= 1
    expect(page.locator("#chart-by_class > div")).to_have_count(1)  # the canvas wrapper only, no tooltip


def _signed_in_page(page, live_server, user):
    """The browser carries a session made by Django's test client (the login forms have their own tests)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


def test_confirm_and_language_switch_work_without_inline_handlers(browser_page, live_server, world):
    """data-confirm (was onsubmit="return confirm(…)") and the language switch (was onchange=) in page.js."""
    from django.utils import timezone

    from gridcare.customers.models import PortalBinding

    PortalBinding.objects.create(user=world.portal_user, account=world.acct_a, created_at=timezone.now())
    page = browser_page
    _signed_in_page(page, live_server, world.portal_user)
    page.goto(f"{live_server.url}/portal/accounts/3100000001/")
    asked = []

    def dismiss(dialog):
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_role("button", name="解除绑定").click()
    expect(page).to_have_url(re.compile(r"/portal/accounts/3100000001/$"))
    assert asked == ["确定解除绑定该户号吗？"]
    assert PortalBinding.objects.filter(user=world.portal_user, account=world.acct_a).exists()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="解除绑定").click()
    expect(page).to_have_url(re.compile(r"/portal/accounts/$"))
    assert not PortalBinding.objects.filter(user=world.portal_user, account=world.acct_a).exists()

    page.select_option("select[name=language]", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
