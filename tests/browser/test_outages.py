"""Browser tests in real Chromium: a dispatcher drafts a planned outage through the console form, the manager
approves and publishes it, and the customer finds it in the portal by 户号; the reliability report draws its
ECharts trend charts and shows the targets."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from gridcare.core.permissions import Role
from gridcare.customers.models import PortalBinding
from gridcare.outages.freeze import freeze
from gridcare.outages.models import OutageEvent, OutageScope
from tests.factories import UserFactory
from tests.outages.conftest import grid  # noqa: F401 — a fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CN = ZoneInfo("Asia/Shanghai")


def console_login(page, url, username, password):
    page.goto(f"{url}/login/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=whoami]")


def logout(page):
    page.context.clear_cookies()


def test_publish_a_planned_outage_then_find_it_in_the_portal_by_account_number(
    browser_page,
    live_server,
    grid,  # noqa: F811
):
    w = grid.world
    UserFactory(username="a_dispatch", role=Role.DISPATCHER, unit=w.bureau_a)
    account = grid.accounts["T1"][2]
    PortalBinding.objects.create(user=w.portal_user, account=account, created_at=timezone.now())
    page = browser_page
    start = (
        (timezone.now() + timedelta(days=10))
        .astimezone(CN)
        .replace(hour=8, minute=0, second=0, microsecond=0)
    )
    console_login(page, live_server.url, "a_dispatch", w.password)
    page.get_by_test_id("nav-outages").hover()
    page.get_by_role("link", name="新建停电").click()
    page.select_option("#o-kind", "planned")
    page.fill("#o-title", "10kV东关一线开关更换")
    page.fill("#o-feeders", "F1")
    page.fill("#o-start", start.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#o-end", (start + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M"))
    page.click("[data-testid=outage-save]")
    page.wait_for_selector("[data-testid=outage-submit]")
    number = OutageEvent.objects.get().number
    assert page.inner_text("[data-testid=outage-status]") == "草稿"
    page.click("[data-testid=outage-submit]")
    page.wait_for_selector("text=待审批")
    logout(page)
    console_login(page, live_server.url, "a_manager", w.password)
    page.goto(f"{live_server.url}/outages/{number}/")
    page.click("[data-testid=outage-approve]")
    page.wait_for_selector("[data-testid=outage-publish]")
    page.click("[data-testid=outage-publish]")
    page.wait_for_selector("text=已发布")
    # F1 covers T1 (4 accounts) and T2 (3): 7 customers frozen
    assert page.inner_text("[data-testid=outage-customers]") == "7"
    logout(page)
    page.goto(f"{live_server.url}/portal/login/")
    page.fill("#username", w.portal_user.username)
    page.fill("#password", w.password)
    page.click("button[type=submit]")
    page.wait_for_url("**/portal/**")
    page.goto(f"{live_server.url}/portal/outages/")
    page.fill("#q-acct", account.account_number)
    page.click("[data-testid=outage-lookup] button")
    card = page.locator(f"[data-testid=outage-{number}]")
    card.wait_for()
    text = card.inner_text()
    assert "10kV东关一线开关更换" in text and "东关1号台区" in text
    restore = start + timedelta(hours=6)
    assert f"{restore.year}年{restore.month}月{restore.day}日 {restore:%H:%M}" in text


def test_the_reliability_report_draws_its_charts(browser_page, live_server, grid):  # noqa: F811
    w = grid.world
    # one restored fault: 4 customers of T1 out 2 hours, an hour and a half before now
    at = timezone.now() - timedelta(hours=3)
    ev = OutageEvent.objects.create(
        number="TD-B-1",
        unit=w.station_a,
        kind="fault",
        title="线路故障",
        status="restored",
        planned_start=at,
        planned_end=at + timedelta(hours=2),
    )
    OutageScope.objects.create(event=ev, transformer_area=grid.t1)
    freeze(ev, start=at, end=at + timedelta(hours=2))
    page = browser_page
    console_login(page, live_server.url, "a_manager", w.password)
    page.get_by_test_id("nav-outages").hover()
    page.get_by_role("link", name="供电可靠性").click()
    page.wait_for_selector("[data-testid=targets]")
    for name in ("saidi", "saifi", "rs1"):
        canvas = page.locator(f"#chart-{name} canvas")
        canvas.first.wait_for(state="attached")
        box = canvas.first.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100
    assert "供电可靠性" in page.inner_text("h1")
