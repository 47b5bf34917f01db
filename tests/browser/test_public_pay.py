"""Browser test in real Chromium on a phone-sized screen: anyone who knows a 户号 queries it without logging in,
sees what is owed, pays through the sandbox gateway and keeps the receipt by its own link.

张三's account 3100000001 owes one bill of 80.70, due in 2099 so that no late fee depends on the day the test
runs. Nobody logs in.
"""

from datetime import date
from decimal import Decimal

import pytest

from gridcare.payments.models import Payment, PaymentOrder, Receivable
from tests.payments.ledger.test_ledger import issued_bill

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args():
    return {"locale": "zh-CN", "viewport": {"width": 375, "height": 812}, "is_mobile": True}


@pytest.fixture
def debt(world, settings):
    settings.GRIDCARE = {
        **settings.GRIDCARE,
        "SANDBOX_PAY": {"ENABLED": True, "PRIVATE_KEY": "", "PUBLIC_KEY": ""},
    }
    return issued_bill(world.acct_a, "2026-09", "80.70", date(2099, 1, 20), issued_on=date(2026, 10, 5))


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_query_pay_and_keep_the_receipt_without_logging_in(browser_page, live_server, world, debt):
    page = browser_page
    page.goto(f"{live_server.url}/portal/query/")
    page.fill("#id_account_number", "3100000001")
    page.get_by_role("button", name="查询").click()
    page.wait_for_selector("[data-testid=query-dues]")

    assert page.inner_text("[data-testid=amount-due]") == "80.70"
    assert page.inner_text("[data-testid=principal-due]") == "80.70"
    assert page.inner_text("[data-testid=late-fee]") == "0.00"
    assert page.inner_text("[data-testid=unpaid-periods]") == "2026-09"
    assert "张*" in page.inner_text("[data-testid=query-result]")
    assert "张三" not in page.content()
    assert page.input_value("#pay_amount") == "80.70"
    assert fits_the_screen(page)

    page.get_by_label("微信支付").check()
    page.get_by_role("button", name="去支付").click()
    page.wait_for_url("**/payments/sandbox/public/*/")
    assert "模拟支付网关（测试环境）" in page.inner_text("h1")
    assert page.inner_text("[data-testid=sandbox-amount]") == "80.70"
    order_no = page.inner_text("[data-testid=sandbox-order-no]")

    page.get_by_role("button", name="确认支付").click()
    page.wait_for_url("**/portal/pay/public/*/receipt/")
    receipt_url = page.url
    assert page.inner_text("[data-testid=receipt-status]") == "缴费成功"
    assert page.inner_text("[data-testid=receipt-amount]") == "80.70"
    assert page.inner_text("[data-testid=receipt-order-no]") == order_no
    assert page.inner_text("[data-testid=receipt-channel]") == "微信支付（模拟支付网关）"
    assert page.inner_text("[data-testid=receipt-name]") == "张*"
    assert "2026-09" in page.inner_text("[data-testid=receipt-bills]")
    assert fits_the_screen(page)

    payment = Payment.objects.get()
    assert (payment.channel, payment.amount) == ("portal", Decimal("80.70"))
    assert page.inner_text("[data-testid=receipt-txn]") == payment.channel_txn_id
    assert Receivable.objects.get(bill=debt).principal_paid == Decimal("80.70")
    assert PaymentOrder.objects.get().order_no == order_no

    # The link alone opens the receipt later, in a browser that was never on the site.
    fresh = page.context.browser.new_context(locale="zh-CN")
    other = fresh.new_page()
    other.goto(receipt_url)
    assert other.inner_text("[data-testid=receipt-status]") == "缴费成功"
    assert other.inner_text("[data-testid=receipt-amount]") == "80.70"
    fresh.close()

    # Back to the gateway (never cached): it sends the paid order to its receipt again; still one payment.
    page.go_back()
    page.wait_for_url(receipt_url)
    assert "该订单已支付，无需重复支付" in page.inner_text("ul.messages")
    assert Payment.objects.count() == 1

    # The query now shows nothing owed.
    page.goto(f"{live_server.url}/portal/query/")
    page.fill("#id_account_number", "3100000001")
    page.get_by_role("button", name="查询").click()
    page.wait_for_selector("[data-testid=query-dues]")
    assert page.inner_text("[data-testid=amount-due]") == "0.00"
    assert page.inner_text("[data-testid=unpaid-periods]") == "无"
