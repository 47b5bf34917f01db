"""Browser test in real Chromium: the service reports page draws its ECharts charts from the page's JSON block
under the strict CSP (the guard in conftest.py fails the test on any violation), and links its Excel export."""

from datetime import timedelta

import pytest
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.service import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_reports_page_draws_its_charts(browser_page, live_server, world):
    w = world
    actor = Actor(user=w.a_manager, channel=Channel.CONSOLE)
    now = timezone.now()
    for order_type, channel, sub in (
        ("fault", "phone", None),
        ("complaint", "web", "service"),
        ("service_request", "portal", "meter_check"),
        ("consultation", "chat", None),
    ):
        services.work_order_create(
            actor=actor,
            order_type=order_type,
            channel=channel,
            sub_type=sub,
            account_number=w.acct_a.account_number,
            received_at=now - timedelta(hours=2),
            now=now,
        )
    page = browser_page
    page.goto(f"{live_server.url}/login/?next=/service/reports/")
    page.fill("#username", w.a_manager.username)
    page.fill("#password", w.password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=summary]")
    assert page.inner_text("[data-testid=total]") == "4"
    for name in ("types", "channels", "units", "months", "on-time", "times"):
        canvas = page.locator(f"#chart-{name} canvas")
        canvas.first.wait_for(state="attached")
        box = canvas.first.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100, name
    href = page.get_attribute("[data-testid=reports-xlsx]", "href")
    assert href.startswith("/service/reports.xlsx?unit=")
