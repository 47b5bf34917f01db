"""Money on pages has thousands separators (`|yuan`): the ledger, the collections account page, the e-bill, the
portal pay page and the cashier's shift pages show 12,345.60, never 12345.60.

Given 张三's account 3100000001 with one issued bill of 12,345.60 due in 2099 (no late fee depends on the day
the test runs), and a cashier who took 2,000.50 in cash."""

import re
from datetime import date

import pytest
from django.utils import timezone

from gridcare.core.permissions import Role
from gridcare.customers.models import PortalBinding
from tests.factories import UserFactory
from tests.payments.ledger.test_ledger import issued_bill

API = "/api/v1"


@pytest.fixture
def big_bill(world):
    return issued_bill(world.acct_a, "2026-09", "12345.60", date(2099, 1, 20), issued_on=date(2026, 10, 5))


def text_of(page: str, name: str) -> str:
    m = re.search(rf'data-testid="{re.escape(name)}"[^>]*>([^<]*)<', page)
    assert m, name
    return m[1].strip()


def test_console_pages_show_thousands_separators(world, big_bill, login):
    c = login(world.admin)
    ledger = c.get("/payments/accounts/3100000001/ledger/").content.decode()
    # the account owes the whole bill: 应缴合计 12,345.60, the bill's principal and outstanding the same
    assert text_of(ledger, "amount-due") == "12,345.60"
    assert "12345.60" not in ledger and ledger.count("12,345.60") >= 3
    collections = c.get("/payments/collections/accounts/3100000001/").content.decode()
    assert text_of(collections, "amount-due") == "12,345.60" and "12345.60" not in collections
    ebill = c.get(f"/billing/bills/{big_bill.pk}/").content.decode()
    assert text_of(ebill, "ebill-amount") == "12,345.60" and "12345.60" not in ebill


def test_portal_pay_page_shows_thousands_separators(world, big_bill, login):
    PortalBinding.objects.create(user=world.portal_user, account=world.acct_a, created_at=timezone.now())
    page = login(world.portal_user).get("/portal/pay/3100000001/").content.decode()
    assert text_of(page, "amount-due") == "12,345.60"
    # only the amount input keeps the plain number the form parses
    assert re.findall(r'value="12345.60"', page) and "12345.60" not in re.sub(r'value="[^"]*"', "", page)


def test_shift_pages_show_thousands_separators(world, big_bill, login):
    cashier = UserFactory(username="a_cashier", role=Role.CASHIER, unit=world.bureau_a)
    c = login(cashier)
    opened = c.post(
        f"{API}/shifts", {"counter": "1号窗口", "opening_float": "1500.00"}, content_type="application/json"
    )
    assert opened.status_code == 201
    body = {
        "account_number": "3100000001",
        "amount": "2000.50",
        "channel": "counter_cash",
        "channel_txn_id": "R1",
    }
    assert c.post(f"{API}/payments", body, content_type="application/json").status_code == 201
    shifts = c.get("/payments/shifts/").content.decode()
    assert "2,000.50" in shifts and "2000.50" not in shifts  # the open shift's cash so far
    sup = UserFactory(username="a_sup", role=Role.MANAGER, unit=world.bureau_a)
    daily = login(sup).get("/payments/shifts/daily/").content.decode()
    # expected cash 2,000.50 (the float is not takings); net 2,000.50 cash + 0 card − 0 reversed = 2,000.50
    assert text_of(daily, "sheet-expected-cash") == "2,000.50"
    assert text_of(daily, "sheet-net") == "2,000.50"
