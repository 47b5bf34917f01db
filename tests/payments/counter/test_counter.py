"""The cashier's counter page: look up, pay, receipt; refusals leave nothing written."""

import html
import re
from datetime import date

import pytest

from gridcare.core.permissions import Role
from gridcare.payments.models import Payment
from tests.factories import UserFactory
from tests.payments.counter.test_shifts import open_shift
from tests.payments.ledger.test_ledger import issued_bill

TOKEN = "tok-0123456789abcdef"  # a well-formed counter form token


@pytest.fixture
def cashier(world):
    user = UserFactory(username="a_cashier", role=Role.CASHIER, unit=world.bureau_a)
    open_shift(user)  # counter payments need an open shift (tests/payments/counter/test_shifts.py)
    return user


@pytest.fixture
def debt(world):
    # due far ahead so that no late fee depends on the day the test runs
    return issued_bill(world.acct_a, "2026-09", "80.00", date(2099, 1, 20), issued_on=date(2026, 10, 5))


def counter_form(c, number: str = "3100000001"):
    """Open the counter page on an account as a cashier would (the lookup, following its redirect): the page's
    address, its text and the fields of the payment form as rendered (hidden ones included)."""
    resp = c.get(f"/payments/counter/?account_number={number}", follow=True)
    assert resp.status_code == 200
    url = resp.request["PATH_INFO"] + "?" + resp.request["QUERY_STRING"]
    page = resp.content.decode()
    return url, page, form_fields(page)


def form_fields(page: str) -> dict[str, str]:
    """The named inputs of the counter's payment form with their rendered values."""
    card = page.split('data-testid="counter-account"', 1)[1]
    form = card.split('<form method="post"', 1)[1].split("</form>", 1)[0]
    fields = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and name.group(1) != "csrfmiddlewaretoken":
            fields[name.group(1)] = html.unescape(value.group(1)) if value else ""
    return fields


def test_lookup_pay_and_receipt(world, debt, cashier, login):
    c = login(cashier)
    url, page, fields = counter_form(c)
    assert 'data-testid="amount-due">80.00<' in page and "张*" in page and "张三" not in page
    # The form's token is in the page's address too (so that Back shows the same form)
    assert len(fields["form_token"]) >= 16 and f"t={fields['form_token']}" in url
    resp = c.post(url, {**fields, "amount": "100.00", "channel": "counter_cash"})
    payment = Payment.objects.get()
    assert resp.status_code == 302 and resp["Location"] == f"/payments/{payment.pk}/receipt/"
    receipt = c.get(resp["Location"]).content.decode()
    # 100.00 paid: 80.00 to the September bill, 20.00 kept as credit
    assert 'data-testid="receipt-amount">100.00<' in receipt and "2026-09" in receipt and "20.00" in receipt
    # The same form posted twice (a double click) records one payment and shows the first receipt
    again = c.post(url, {**fields, "amount": "100.00", "channel": "counter_cash"})
    assert again.status_code == 302 and again["Location"] == f"/payments/{payment.pk}/receipt/"
    assert Payment.objects.count() == 1


@pytest.mark.parametrize("amount", ["0", "-5", "abc", "1.001"])
def test_bad_amount_is_shown_and_nothing_written(world, debt, cashier, login, amount):
    resp = login(cashier).post(
        "/payments/counter/?account_number=3100000001",
        {"account_number": "3100000001", "amount": amount, "channel": "counter_cash", "form_token": TOKEN},
    )
    assert resp.status_code == 400 and "errorlist" in resp.content.decode()
    assert not Payment.objects.exists()


def test_refusals(world, debt, cashier, login):
    assert login().get("/payments/counter/").status_code == 302
    assert login(world.a_agent).get("/payments/counter/").status_code == 404
    other = login(cashier).get("/payments/counter/?account_number=3200000001").content.decode()
    assert "errorlist" in other and "amount-due" not in other  # another bureau's account
    b_cashier = UserFactory(username="b_cashier", role=Role.CASHIER, unit=world.bureau_b)
    resp = login(b_cashier).post(
        "/payments/counter/?account_number=3100000001",
        {"account_number": "3100000001", "amount": "10.00", "channel": "counter_cash", "form_token": TOKEN},
    )
    assert resp.status_code == 200 and not Payment.objects.exists()
