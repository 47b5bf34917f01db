"""The counter's sanity cap: one payment may be at most the amount due now plus GRIDCARE["COUNTER_MARGIN"]
(default 10,000.00) — a cashier typing 99999999 is refused on the amount, nothing written, page and API alike.

张三's 3100000001 owes one 2026-09 bill of 80.00 due in 2099 (no late fee on any test day)."""

from datetime import date

import pytest
from django.test import override_settings

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.payments.counter import services as counter
from gridcare.payments.models import CounterReceipt, Payment
from tests.factories import UserFactory
from tests.payments.counter.test_counter import counter_form
from tests.payments.counter.test_shifts import open_shift
from tests.payments.ledger.test_ledger import issued_bill

API = "/api/v1"
# 80.00 due + 10,000.00 margin = 10,080.00
OVER_DEFAULT = "超过本次可收上限 ¥10,080.00（应缴 ¥80.00 + 预存上限 ¥10,000.00）"


@pytest.fixture
def cashier(world):
    user = UserFactory(username="a_cashier", role=Role.CASHIER, unit=world.bureau_a)
    open_shift(user)
    return user


@pytest.fixture
def debt(world):
    return issued_bill(world.acct_a, "2026-09", "80.00", date(2099, 1, 20), issued_on=date(2026, 10, 5))


def nothing_written():
    return not Payment.objects.exists() and not CounterReceipt.objects.exists()


def record(user, amount: str, txn: str = "R1"):
    return counter.counter_payment_record(
        actor=Actor(user=user),
        channel="counter_cash",
        account_number="3100000001",
        amount=amount,
        channel_txn_id=txn,
    )


def test_api_refuses_an_absurd_cash_amount_on_the_amount_field(world, debt, cashier, login):
    before = AuditEvent.objects.count()
    body = {
        "account_number": "3100000001",
        "amount": "99999999.00",
        "channel": "counter_cash",
        "channel_txn_id": "R1",
    }
    resp = login(cashier).post(f"{API}/payments", body, content_type="application/json")
    assert resp.status_code == 422
    assert resp.json()["detail"] == [{"field": "amount", "message": OVER_DEFAULT}]
    assert nothing_written() and AuditEvent.objects.count() == before


def test_page_refuses_an_absurd_cash_amount(world, debt, cashier, login):
    c = login(cashier)
    url, _page, fields = counter_form(c)
    resp = c.post(url, {**fields, "amount": "99999999", "channel": "counter_cash"})
    assert resp.status_code == 400 and OVER_DEFAULT in resp.content.decode()
    assert nothing_written()


def test_the_cap_itself_is_accepted_one_fen_more_is_not(world, debt, cashier):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        record(cashier, "10080.01")
    assert exc.value.message_dict == {"amount": [OVER_DEFAULT]}
    assert nothing_written()
    assert record(cashier, "10080.00").payment.amount == 10080
    # Now nothing is due (10,080.00 paid against 80.00): the next payment may be 0.00 + 10,000.00 at most
    with pytest.raises(ValidationError) as exc:
        record(cashier, "10000.01", txn="R2")
    assert exc.value.message_dict == {
        "amount": ["超过本次可收上限 ¥10,000.00（应缴 ¥0.00 + 预存上限 ¥10,000.00）"]
    }
    # a retry of the recorded receipt number is still answered with the first payment, not refused
    again = record(cashier, "10080.00")
    assert again.created is False and Payment.objects.count() == 1


@override_settings(GRIDCARE={"COUNTER_MARGIN": "500.00"})
def test_the_margin_is_a_setting(world, debt, cashier):
    from django.core.exceptions import ValidationError

    # 80.00 due + 500.00 margin = 580.00
    with pytest.raises(ValidationError) as exc:
        record(cashier, "580.01")
    assert exc.value.message_dict == {
        "amount": ["超过本次可收上限 ¥580.00（应缴 ¥80.00 + 预存上限 ¥500.00）"]
    }
    assert record(cashier, "580.00").created
