"""Browser test in real Chromium on a phone-sized screen: a customer pays a bill online through the sandbox.

张三's account 3100000001 is bound to the portal user and owes one bill of 80.70, due in 2099 so that no late
fee depends on the day the test runs.
"""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from gridcare.customers.models import PortalBinding
from gridcare.payments.models import Payment, PaymentOrder, Receivable
from tests.payments.ledger.test_ledger import issued_bill

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args():
    return {"locale": "zh-CN", "viewport": {"width": 390, "height": 844}, "is_mobile": True}


@pytest.fixture
def debt(world, settings):
    settings.GRIDCARE = {
        **settings.GRIDCARE,
        "SANDBOX_PAY": {"ENABLED": True, "PRIVATE_KEY": "", "PUBLIC_KEY": ""},
    }
    PortalBinding.objects.create(user=world.portal_user, account=world.acct_a, created_at=timezone.now())
    return issued_bill(world.acct_a, "2026-09", "80.70", date(2099, 1, 20), issued_on=date(2026, 10, 5))


def log_in_and_open_pay_page(page, live_server, world):
    page.goto(f"{live_server.url}/portal/login/")
    page.fill("#username", world.portal_user.username)
    page.fill("#password", world.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/portal/accounts/")
    page.get_by_role("link", name="户号 3100000001").click()
    page.wait_for_url("**/portal/accounts/3100000001/")
    page.get_by_role("link", name="去缴费").click()
    page.wait_for_url("**/portal/pay/3100000001/")


def test_customer_pays_the_bill_in_the_sandbox_and_sees_the_receipt(browser_page, live_server, world, debt):
    page = browser_page
    log_in_and_open_pay_page(page, live_server, world)
    assert page.inner_text("[data-testid=amount-due]") == "80.70"
    assert page.inner_text("[data-testid=pay-name]") == "张*"
    assert page.input_value("#id_amount") == "80.70"

    page.get_by_role("button", name="支付").click()
    page.wait_for_url("**/payments/sandbox/*/")
    assert "模拟支付网关（测试环境）" in page.inner_text("h1")
    assert page.inner_text("[data-testid=sandbox-amount]") == "80.70"
    order_no = page.inner_text("[data-testid=sandbox-order-no]")

    page.get_by_role("button", name="确认支付").click()
    page.wait_for_url(f"**/portal/pay/receipt/{order_no}/")
    assert page.inner_text("[data-testid=receipt-amount]") == "80.70"
    assert page.inner_text("[data-testid=receipt-order-no]") == order_no
    assert page.inner_text("[data-testid=receipt-owed]") == "已缴清"
    assert "2026-09" in page.inner_text("[data-testid=receipt-bills]")

    payment = Payment.objects.get()
    assert (payment.channel, payment.amount) == ("portal", Decimal("80.70"))
    assert page.inner_text("[data-testid=receipt-txn]") == payment.channel_txn_id
    assert Receivable.objects.get(bill=debt).principal_paid == Decimal("80.70")

    # The back button to the sandbox and a second confirmation: still one payment, the receipt again.
    page.go_back()
    page.wait_for_url("**/payments/sandbox/*/")
    page.reload()
    page.wait_for_url(f"**/portal/pay/receipt/{order_no}/")
    assert Payment.objects.count() == 1


def test_customer_pays_part_and_sees_what_is_still_owed_then_cancels_the_next(
    browser_page, live_server, world, debt
):
    page = browser_page
    log_in_and_open_pay_page(page, live_server, world)
    page.fill("#id_amount", "50")
    page.get_by_role("button", name="支付").click()
    page.wait_for_url("**/payments/sandbox/*/")
    page.get_by_role("button", name="确认支付").click()
    page.wait_for_url("**/portal/pay/receipt/*/")
    assert page.inner_text("[data-testid=receipt-amount]") == "50.00"
    assert page.inner_text("[data-testid=receipt-owed]") == "仍欠合计：30.70 元"  # 80.70 − 50.00

    page.get_by_role("link", name="返回户号详情").click()
    page.get_by_role("link", name="去缴费").click()
    page.wait_for_url("**/portal/pay/3100000001/")
    assert page.inner_text("[data-testid=amount-due]") == "30.70"
    page.get_by_role("button", name="支付").click()
    page.wait_for_url("**/payments/sandbox/*/")
    page.get_by_role("button", name="取消").click()
    page.wait_for_url("**/portal/pay/3100000001/")
    assert "您已取消支付" in page.inner_text("ul.messages")
    assert page.inner_text("[data-testid=amount-due]") == "30.70"
    assert Payment.objects.count() == 1 and PaymentOrder.objects.filter(status="created").count() == 1
