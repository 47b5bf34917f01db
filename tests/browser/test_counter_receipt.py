"""Browser test in real Chromium: a cashier opens a shift, takes 86.40 in cash from 100.00 tendered, the receipt
shows the change (100.00 − 86.40 = 13.60) and the amount in capitals (捌拾陆元肆角); then Back and submit again:
still one payment, and the first receipt is shown.

张三's account 3100000001 owes one bill of 86.40 due far ahead (2099): no late fee, whatever the test day.
"""

from datetime import date
from decimal import Decimal

import pytest

from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.payments.models import CounterReceipt, LedgerEntry, Payment
from tests.factories import UserFactory
from tests.payments.ledger.test_ledger import issued_bill

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

D = Decimal


@pytest.fixture
def cashier(world):
    return UserFactory(username="a_cashier", role=Role.CASHIER, unit=world.bureau_a)


@pytest.fixture
def debt(world):
    return issued_bill(world.acct_a, "2026-09", "86.40", date(2099, 1, 20), issued_on=date(2026, 10, 5))


def test_cash_with_change_then_back_and_submit_again(browser_page, live_server, world, cashier, debt):
    page = browser_page
    page.goto(f"{live_server.url}/login/")
    page.fill("#username", "a_cashier")
    page.fill("#password", world.password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=whoami]")
    page.goto(f"{live_server.url}/payments/counter/")

    # Open the shift at window 1 with a 500.00 float
    page.fill("#id_counter", "1号窗口")
    page.fill("#id_opening_float", "500.00")
    page.click("[data-testid=shift-open-form] button[type=submit]")
    page.wait_for_selector("[data-testid=shift-count]")

    # Look up the account: 86.40 due, offered as the amount
    page.fill("#id_account_number", "3100000001")
    page.get_by_role("button", name="查询").click()
    page.wait_for_selector("[data-testid=counter-account]")
    assert page.inner_text("[data-testid=amount-due]") == "86.40"
    assert page.input_value("#id_amount") == "86.40"
    token = page.input_value("input[name=form_token]")
    assert f"t={token}" in page.url  # the form's token is in the address: Back comes back to the same form

    # Cash, 100.00 tendered: the form previews the change, 100.00 − 86.40 = 13.60
    page.select_option("#id_channel", "counter_cash")
    page.fill("#id_tendered", "100.00")
    assert page.inner_text("[data-testid=change-preview]") == "13.60"
    page.get_by_role("button", name="收费并打印收据").click()

    # The receipt: amount, tendered, change and capitals
    page.wait_for_selector("[data-testid=receipt]")
    receipt_url = page.url
    assert page.inner_text("[data-testid=receipt-amount]") == "86.40"
    assert page.inner_text("[data-testid=receipt-tendered]") == "100.00"
    assert page.inner_text("[data-testid=receipt-change]") == "13.60"
    assert (
        page.inner_text("[data-testid=receipt-amount-upper]") == "捌拾陆元肆角"
    )  # 86.40: 角 and no 分 → no 整
    receipt = page.inner_text("[data-testid=receipt]")
    assert "电费收据" in receipt and "柜台现金" in receipt and "1号窗口" in receipt
    assert "仍欠合计：0.00" in receipt  # 86.40 − 86.40
    payment = Payment.objects.get()
    assert (payment.amount, payment.channel, payment.received_by_id) == (
        D("86.40"),
        "counter_cash",
        cashier.pk,
    )
    assert payment.channel_txn_id in receipt
    r = CounterReceipt.objects.get()
    assert (r.payment_id, r.form_token, r.tendered, r.change) == (payment.pk, token, D("100.00"), D("13.60"))

    # Back to the form, and submit it again (the cashier types the figures again)
    page.go_back()
    page.wait_for_selector("[data-testid=counter-pay-form]")
    assert page.input_value("input[name=form_token]") == token
    page.fill("#id_amount", "86.40")
    page.select_option("#id_channel", "counter_cash")
    page.fill("#id_tendered", "100.00")
    page.get_by_role("button", name="收费并打印收据").click()

    # Still one payment, and the first receipt is shown, saying that nothing was taken twice
    page.wait_for_selector("[data-testid=receipt]")
    assert page.url == receipt_url
    assert "此收费表单已提交过，没有重复收费" in page.inner_text("main")
    assert page.inner_text("[data-testid=receipt-change]") == "13.60"
    assert Payment.objects.count() == 1 and CounterReceipt.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="payment").count() == 1
    assert AuditEvent.objects.filter(action="payment.record").count() == 1

    # The counter's shift holds the one payment
    page.get_by_role("link", name="继续收费").click()
    page.wait_for_selector("[data-testid=shift-count]")
    assert page.inner_text("[data-testid=shift-count]") == "1"
    assert page.inner_text("[data-testid=shift-cash]") == "86.40"
