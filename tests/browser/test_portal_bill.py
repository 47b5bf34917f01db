"""Browser test in real Chromium on a phone-sized screen: a customer opens an electronic bill and its PDF."""

import importlib
from datetime import date, datetime

import pytest
from django.apps import apps
from django.utils import timezone

from gridcare.billing import services
from gridcare.billing.models import Bill
from gridcare.core.audit import Actor
from gridcare.customers.models import Meter, PortalBinding
from gridcare.metering.models import Route, RouteMembership
from gridcare.metering.services import read_record

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SYSTEM = Actor()


@pytest.fixture
def browser_context_args():
    return {"locale": "zh-CN", "viewport": {"width": 390, "height": 844}, "is_mobile": True}


def at(y: int, m: int, d: int) -> datetime:
    return timezone.make_aware(datetime(y, m, d, 9))  # noqa: DTZ001


@pytest.fixture
def issued_bills(world):
    """Two issued bills of 3100000001 (bound to the portal user): January 2700 kWh, February 200 kWh."""
    # A transactional test before this one flushed the tables, the migration's tariff catalogue included.
    importlib.import_module("gridcare.billing.migrations.0002_demo_catalogue").load(apps, None)
    route = Route.objects.create(
        code="R01", name="东关一段", unit=world.station_a, reading_day=5, created_at=timezone.now()
    )
    RouteMembership.objects.create(account=world.acct_a, route=route, sequence=1)
    meter = Meter.objects.get(asset_number="M3100000001")
    read_record(actor=SYSTEM, meter=meter, read_at=at(2025, 12, 5), registers={"total": "1000"})
    for when, total, period in ((at(2026, 1, 5), "3700", "2026-01"), (at(2026, 2, 5), "3900", "2026-02")):
        read_record(actor=SYSTEM, meter=meter, read_at=when, registers={"total": total})
        run = services.billing_run_start(actor=SYSTEM, period=period, route=route)
        services.bills_issue(actor=SYSTEM, run=services.billing_run_execute(run.pk))
    PortalBinding.objects.create(user=world.portal_user, account=world.acct_a, created_at=timezone.now())
    return Bill.objects.get(account=world.acct_a, period_start=date(2026, 2, 1))


def test_customer_opens_the_bill_chart_and_pdf(browser_page, live_server, world, issued_bills):
    page = browser_page
    page.goto(f"{live_server.url}/portal/login/")
    page.fill("#username", world.portal_user.username)
    page.fill("#password", world.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/portal/accounts/")

    page.get_by_role("link", name="户号 3100000001").click()
    page.wait_for_url("**/portal/accounts/3100000001/")
    page.locator("[data-testid='bill-2026-02']").click()
    page.wait_for_url(f"**/portal/billing/bills/{issued_bills.pk}/")

    # 200 × 0.538 = 107.60 plus 140 kWh over 2760 × 0.05 = 7.00.
    assert page.inner_text("[data-testid=ebill-amount]") == "114.60"
    assert page.inner_text("[data-testid=ebill-customer-name]") == "张三"
    assert page.inner_text("[data-testid=ebill-tier]") == "第2档"
    # ECharts drew the 13-month chart into a canvas inside the chart's div.
    canvas = page.locator("[data-testid=usage-chart] canvas")
    canvas.first.wait_for(state="attached")
    box = canvas.first.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 100
    assert page.evaluate(
        "() => echarts.getInstanceByDom(document.getElementById('usage-chart')).getOption().xAxis[0].data"
    ) == ["2026-01", "2026-02"]

    href = page.get_attribute("[data-testid=ebill-pdf]", "href")
    assert href == f"/portal/billing/bills/{issued_bills.pk}/pdf/"
    resp = page.request.get(f"{live_server.url}{href}")  # the browser's own session cookie
    assert resp.status == 200 and resp.headers["content-type"] == "application/pdf"
    assert resp.body().startswith(b"%PDF")
