"""Browser test in real Chromium on a phone-sized screen: a customer whose bound account is in arrears and has a
disconnection notice logs in and sees what is due, the late fee, the due date and the state; opens the bill
(部分缴费, with its payment) and the payment history.

张三's account 3100000001 is residential: late fee 0.1 % per day after the due date. The August bill of 942.76
is due 20 September; 100.00 was paid on 10 September (before the due date, so no fee). The dunning job of
20 October (30 days past due, arrears 842.76 ≥ 50.00) gives the disconnection notice, planned 7 days later.
The portal's "today" is fixed at 25 October: 35 days late (21–30 September: 10, 1–25 October: 25), so the fee
is 842.76 × 0.001 × 35 = 29.4966 → 29.50 (≥ 1.00: the same under either reading of the 1.00 minimum) and
842.76 + 29.50 = 872.26 is due.
"""

from datetime import date

import pytest
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.customers.models import PortalBinding
from gridcare.payments.collections.services import collections_run
from gridcare.portal import selectors
from tests.payments.ledger.test_ledger import issued_bill, pay

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args():
    return {"locale": "zh-CN", "viewport": {"width": 375, "height": 812}, "is_mobile": True}


@pytest.fixture
def arrears(world, monkeypatch):
    bill = issued_bill(world.acct_a, "2026-08", "942.76", date(2026, 9, 20))
    pay("100.00", date(2026, 9, 10), "C-0910")
    counts = collections_run(today=date(2026, 10, 20), actor=Actor())
    assert counts["disconnect_notices"] == 1
    PortalBinding.objects.create(user=world.portal_user, account=world.acct_a, created_at=timezone.now())
    # The live server runs in this process: its portal pages take this day as today.
    monkeypatch.setattr(selectors, "today", lambda: date(2026, 10, 25))
    return bill


def check_money(page):
    assert page.inner_text("[data-testid=amount-due-3100000001]") == "872.26"
    assert page.inner_text("[data-testid=late-fee-3100000001]") == "29.50"
    assert page.inner_text("[data-testid=principal-3100000001]") == "842.76"
    assert page.inner_text("[data-testid=due-date-3100000001]") == "2026-09-20"
    assert page.inner_text("[data-testid=overdue-3100000001]") == "已逾期 35 天"
    assert page.inner_text("[data-testid=state-3100000001]") == "停电通知"
    assert "计划停电日期 2026-10-27" in page.inner_text("[data-testid=notice-3100000001]")


def test_home_with_arrears_and_a_disconnection_notice(browser_page, live_server, world, arrears):
    page = browser_page
    page.goto(f"{live_server.url}/portal/login/")
    page.fill("#username", world.portal_user.username)
    page.fill("#password", world.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/portal/accounts/")
    check_money(page)

    page.get_by_role("link", name="网上营业厅").first.click()
    page.wait_for_url(f"{live_server.url}/portal/")
    check_money(page)
    # Fits a 375 px phone: nothing wider than the screen.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
    badge = page.locator("[data-testid=state-3100000001]")
    assert badge.is_visible()

    page.get_by_role("link", name="户号 3100000001").click()
    page.wait_for_url("**/portal/accounts/3100000001/")
    assert page.inner_text("[data-testid=bill-status-2026-08]") == "部分缴费"
    page.locator("[data-testid='bill-2026-08']").click()
    page.wait_for_url(f"**/portal/billing/bills/{arrears.pk}/")
    assert page.inner_text("[data-testid=bill-payment-status]") == "部分缴费"
    assert page.inner_text("[data-testid=bill-paid]") == "100.00 元"
    assert page.inner_text("[data-testid=bill-amount-due]") == "872.26"
    assert "柜台现金" in page.inner_text("[data-testid=bill-payments]")
    assert "账单缴清后可开具电子发票" in page.inner_text("[data-testid=einvoice]")

    page.go_back()
    page.wait_for_url("**/portal/accounts/3100000001/")
    page.locator("[data-testid=payments-link]").click()
    page.wait_for_url("**/portal/accounts/3100000001/payments/")
    history = page.inner_text("[data-testid=payments]")
    assert "2026-09-10" in history and "100.00" in history and "柜台现金" in history
    assert "2026-08 账单" in history
    assert page.inner_text("[data-testid=state-3100000001]") == "停电通知"
