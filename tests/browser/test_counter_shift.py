"""Browser test in real Chromium: a cashier's shift at the counter — open the shift with a float, take a cash
payment of what 张三 owes, print the receipt, then the till close (日结): refused with a wrong cash count,
accepted with the right one, and the daily close sheet (日结单) shows the closed shift.

张三's account 3100000001 owes one bill of 86.40 due far ahead (2099): no late fee, whatever the test day.
"""

from datetime import date
from decimal import Decimal

import pytest

from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.payments.models import CashierShift, LedgerEntry, Payment
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


def test_cashier_shift_payment_receipt_and_till_close(browser_page, live_server, world, cashier, debt):
    page = browser_page
    page.goto(f"{live_server.url}/login/")
    page.fill("#username", "a_cashier")
    page.fill("#password", world.password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=whoami]")
    assert "收费员" in page.inner_text("[data-testid=whoami]")
    page.get_by_role("link", name="收费", exact=True).hover()  # the 收费 menu opens on hover
    page.get_by_role("link", name="柜台收费").click()
    page.wait_for_selector("[data-testid=counter-shift]")
    assert "尚未开班" in page.inner_text("[data-testid=counter-shift]")

    # Open the shift at window 1 with a 500.00 float
    page.fill("#id_counter", "1号窗口")
    page.fill("#id_opening_float", "500.00")
    page.click("[data-testid=shift-open-form] button[type=submit]")
    page.wait_for_selector("[data-testid=shift-count]")
    shift = CashierShift.objects.get()
    assert (shift.cashier_id, shift.status, shift.counter, shift.opening_float) == (
        cashier.pk,
        "open",
        "1号窗口",
        D("500.00"),
    )
    assert "1号窗口" in page.inner_text("[data-testid=counter-shift]")
    assert page.inner_text("[data-testid=shift-count]") == "0"
    assert page.inner_text("[data-testid=shift-cash]") == "0.00"

    # Look up the account: one bill of 86.40, not due until 2099 → 86.40 due, no fee
    page.fill("#id_account_number", "3100000001")
    page.get_by_role("button", name="查询").click()
    page.wait_for_selector("[data-testid=counter-account]")
    account_card = page.inner_text("[data-testid=counter-account]")
    assert "3100000001" in account_card and "张*" in account_card and "2026-09" in account_card
    assert page.inner_text("[data-testid=amount-due]") == "86.40"
    assert page.input_value("#id_amount") == "86.40"  # the amount due is offered
    page.select_option("#id_channel", "counter_cash")
    page.get_by_role("button", name="收费并打印收据").click()

    # The receipt
    page.wait_for_selector("[data-testid=receipt]")
    assert page.inner_text("[data-testid=receipt-amount]") == "86.40"
    receipt = page.inner_text("[data-testid=receipt]")
    assert "柜台现金" in receipt
    assert "1号窗口" in receipt
    assert "仍欠合计：0.00" in receipt  # 86.40 − 86.40
    payment = Payment.objects.get()  # recorded once
    assert (payment.account_id, payment.amount, payment.channel, payment.status) == (
        world.acct_a.pk,
        D("86.40"),
        "counter_cash",
        "posted",
    )
    assert (payment.shift_id, payment.received_by_id, payment.unallocated) == (
        shift.pk,
        cashier.pk,
        D("0.00"),
    )
    assert payment.channel_txn_id in receipt  # the receipt number is the payment's transaction id
    assert LedgerEntry.objects.filter(kind="payment").count() == 1
    assert AuditEvent.objects.filter(action="payment.record", object_id=str(payment.pk)).count() == 1

    # Back to the counter: the shift holds 1 payment, 86.40 cash, 0.00 card
    page.get_by_role("link", name="继续收费").click()
    page.wait_for_selector("[data-testid=shift-count]")
    assert page.inner_text("[data-testid=shift-count]") == "1"
    assert page.inner_text("[data-testid=shift-cash]") == "86.40"
    assert page.inner_text("[data-testid=shift-card]") == "0.00"

    # 日结 with a wrong count: 586.00 in the drawer − 500.00 float = 86.00 declared; 86.00 − 86.40 = −0.40
    page.locator("[data-testid=counter-shift]").get_by_role("link", name="日结").click()
    page.wait_for_selector("[data-testid=shift-close]")
    page.fill("#id_declared_cash", "86.00")
    page.fill("#id_declared_card", "0.00")
    page.locator("[data-testid=shift-close]").get_by_role("button", name="日结").click()
    page.wait_for_selector("[data-testid=shift-close] [role=alert]")
    error = page.inner_text("[data-testid=shift-close] [role=alert]")
    assert "现金不平：应收 86.40 元，申报 86.00 元，差额 -0.40 元" in error
    shift.refresh_from_db()
    assert (shift.status, shift.closed_at, shift.declared_cash) == ("open", None, None)
    assert not AuditEvent.objects.filter(action="shift.close").exists()

    # The right count: cash 86.40, card 0.00 → closed, then the daily close sheet
    page.fill("#id_declared_cash", "86.40")
    page.fill("#id_declared_card", "0.00")
    page.locator("[data-testid=shift-close]").get_by_role("button", name="日结").click()
    page.wait_for_selector("[data-testid=daily-sheet]")
    assert page.url.startswith(f"{live_server.url}/payments/shifts/daily/")
    shift.refresh_from_db()
    assert shift.status == "closed" and shift.closed_at is not None
    assert (shift.expected_cash, shift.expected_card, shift.payments_count) == (D("86.40"), D("0.00"), 1)
    assert (shift.declared_cash, shift.declared_card) == (D("86.40"), D("0.00"))
    close = AuditEvent.objects.get(action="shift.close", object_id=str(shift.pk))
    assert close.changes["expected_cash"] == "86.40" and close.changes["count"] == 1
    assert Payment.objects.count() == 1  # closing took no payment twice

    rows = page.locator("[data-testid=sheet-shift]")
    assert rows.count() == 1
    cells = [c.strip() for c in rows.first.locator("td").all_inner_texts()]
    # cashier, window, status, count, expected/declared/difference cash, expected/declared/difference card
    assert cells[1:] == ["1号窗口", "已日结", "1", "86.40", "86.40", "0.00", "0.00", "0.00", "0.00"]
    assert page.inner_text("[data-testid=sheet-expected-cash]") == "86.40"
    assert page.inner_text("[data-testid=sheet-expected-card]") == "0.00"
    assert page.inner_text("[data-testid=sheet-net]") == "86.40"  # 86.40 + 0.00, no reversal, no terminal
    assert "未日结" not in page.inner_text("[data-testid=daily-sheet]")
