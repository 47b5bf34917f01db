"""Payments API: the statement as of a date, counter payments, Idempotency-Key, refusals."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from gridcare.core.permissions import Role
from gridcare.customers.models import PortalBinding
from gridcare.payments.models import Payment
from tests.factories import UserFactory
from tests.payments.counter.test_shifts import open_shift
from tests.payments.ledger.test_ledger import issued_bill, pay

API = "/api/v1"


@pytest.fixture
def cashier(world):
    user = UserFactory(username="a_cashier", role=Role.CASHIER, unit=world.bureau_a)
    open_shift(user)  # counter payments need an open shift (tests/payments/counter/test_shifts.py)
    return user


@pytest.fixture
def debts(world):
    issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    issued_bill(world.acct_a, "2026-09", "80.00", date(2026, 10, 20))


def test_statement_as_of(world, debts, login):
    body = login(world.a_clerk).get(f"{API}/accounts/3100000001/statement?as_of=2026-10-30").json()
    # A: 40 days late on 100.00 → 100 × 0.001 × 40 = 4.00; B: 10 days on 80.00 → 0.80 → minimum 1.00
    assert [
        (b["period"], b["principal_outstanding"], b["late_fee"], b["days_overdue"]) for b in body["bills"]
    ] == [("2026-08", "100.00", "4.00", 40), ("2026-09", "80.00", "1.00", 10)]
    assert (body["principal_outstanding"], body["late_fee"], body["amount_due"]) == (
        "180.00",
        "5.00",
        "185.00",
    )
    assert (
        body["bills"][0]["customer_class"] == "residential" and body["bills"][0]["due_date"] == "2026-09-20"
    )
    # Before any due date: no fee at all
    early = login(world.a_clerk).get(f"{API}/accounts/3100000001/statement?as_of=2026-09-20").json()
    assert early["late_fee"] == "0.00"


def test_statement_scoping(world, debts, login):
    assert login(world.b_clerk).get(f"{API}/accounts/3100000001/statement").status_code == 404
    assert login().get(f"{API}/accounts/3100000001/statement").status_code == 401
    portal = login(world.portal_user)
    assert portal.get(f"{API}/accounts/3100000001/statement").status_code == 404  # not bound
    PortalBinding.objects.create(user=world.portal_user, account=world.acct_a, created_at=timezone.now())
    assert portal.get(f"{API}/accounts/3100000001/statement").status_code == 200
    bad = login(world.a_clerk).get(f"{API}/accounts/3100000001/statement?as_of=2026-13-01")
    assert bad.status_code == 422


def test_counter_payment_and_repeat(world, debts, cashier, login):
    c = login(cashier)
    body = {
        "account_number": "3100000001",
        "amount": "50.00",
        "channel": "counter_cash",
        "channel_txn_id": "R-0001",
    }
    first = c.post(f"{API}/payments", body, content_type="application/json")
    assert first.status_code == 201 and first.json()["created"] is True and first.json()["amount"] == "50.00"
    again = c.post(f"{API}/payments", body, content_type="application/json")
    assert (
        again.status_code == 200
        and again.json()["id"] == first.json()["id"]
        and again.json()["created"] is False
    )
    assert Payment.objects.count() == 1


def test_idempotency_key_replays_and_refuses_reuse(world, debts, cashier, login):
    c = login(cashier)
    body = {"account_number": "3100000001", "amount": "20.00", "channel_txn_id": "R-0002"}
    first = c.post(f"{API}/payments", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = c.post(f"{API}/payments", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, again.status_code) == (201, 201) and again.json() == first.json()
    other = dict(body, channel_txn_id="R-0003")
    reused = c.post(f"{API}/payments", other, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert reused.status_code == 422 and reused.json()["detail"][0]["field"] == "Idempotency-Key"
    assert Payment.objects.count() == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"amount": "x"}, "amount"),
        ({"account_number": "3200000001"}, "account_number"),  # another bureau's account: not visible
        ({"channel": "alipay"}, "channel"),
    ],
)
def test_counter_payment_refusals(world, debts, cashier, login, body, field):
    payload = {"account_number": "3100000001", "amount": "20.00", "channel_txn_id": "R-9", **body}
    resp = login(cashier).post(f"{API}/payments", payload, content_type="application/json")
    assert resp.status_code == 422 and field in [d["field"] for d in resp.json()["detail"]]
    assert not Payment.objects.exists()


def test_only_cashiers_take_payments(world, debts, login):
    body = {"account_number": "3100000001", "amount": "20.00", "channel_txn_id": "R-10"}
    assert (
        login(world.a_agent).post(f"{API}/payments", body, content_type="application/json").status_code == 403
    )
    assert login().post(f"{API}/payments", body, content_type="application/json").status_code == 401
    assert not Payment.objects.exists()


def test_counter_payment_moves_the_statement(world, debts, cashier, login):
    pay("104.00", date(2026, 10, 10), "R-11")  # 10 Oct: A's fee 20 days × 0.1 % = 2.00, A 100.00, B 2.00
    st = login(cashier).get(f"{API}/accounts/3100000001/statement?as_of=2026-10-10").json()
    assert [(b["period"], b["principal_outstanding"]) for b in st["bills"]] == [("2026-09", "78.00")]
    assert Decimal(st["amount_due"]) == Decimal("78.00")
