"""Corrections interacting with each other: a reversal lets the account's other credit pay the re-opened
debt; a cancelled bill's pending waiver is closed and cannot be approved; a refund decision must be explicit."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from gridcare.core.audit import Actor
from gridcare.core.permissions import Role
from gridcare.payments.ledger import refunds, services
from gridcare.payments.ledger import statement as selectors
from gridcare.payments.models import FeeWaiver, LedgerEntry, Payment, Receivable, Refund
from tests.factories import UserFactory
from tests.payments.ledger.test_ledger import issued_bill, pay

D = Decimal


def test_reversal_lets_other_credit_pay_the_reopened_bill(world):
    # Bill 100.00 (due far ahead: no late fee). P1 100.00 pays it; P2 60.00 is all credit. P1 bounces.
    bill = issued_bill(world.acct_a, "2026-08", "100.00", date(2099, 9, 20), issued_on=date(2026, 9, 5))
    p1 = pay("100.00", date(2026, 9, 10), "P1").payment
    p2 = pay("60.00", date(2026, 9, 11), "P2").payment
    clerk = UserFactory(username="c_billing", role=Role.BILLING_CLERK, unit=world.bureau_a)
    services.payment_reverse(actor=Actor(user=clerk), payment=p1, reason="支票退票")
    # Ledger: +100 − 100 − 60 + 100 = +40.00 owed; P2's 60.00 now pays the bill: 100 − 60 = 40.00 open, no credit
    assert selectors.ledger_balance(world.acct_a.pk) == D("40.00")
    r = Receivable.objects.get(bill=bill)
    assert (r.principal_paid, Payment.objects.get(pk=p2.pk).unallocated) == (D("60.00"), D("0.00"))
    assert refunds.credit_of(world.acct_a.pk) == D("0.00")  # nothing left to refund while the account owes


def test_cancelling_a_bill_closes_its_pending_waiver(world):
    bill = issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    r = Receivable.objects.get(bill=bill)
    clerk = UserFactory(username="c_billing", role=Role.BILLING_CLERK, unit=world.bureau_a)
    # 100.00 × 0.1 % × 20 days (20 Sep → 10 Oct) = 2.00 accrued: a 2.00 waiver may be asked for
    w = services.waiver_request(
        actor=Actor(user=clerk), receivable=r, amount="2.00", reason="困难户", on=date(2026, 10, 10)
    )
    services.receivable_cancel(bill_id=bill.pk, reason="抄表错误")
    assert FeeWaiver.objects.get(pk=w.pk).status == "rejected"
    entries = LedgerEntry.objects.count()
    with pytest.raises(ValidationError):
        services.waiver_decide(
            actor=Actor(user=world.a_manager), waiver=w, approve=True, on=date(2026, 10, 15)
        )
    assert LedgerEntry.objects.count() == entries  # no late fee charged to the cancelled bill
    assert selectors.ledger_balance(world.acct_a.pk) == D("0.00")


def test_refund_decision_must_be_explicit(world, login):
    pay("60.00", date(2026, 9, 11), "P2")  # no bills: 60.00 credit
    cashier = UserFactory(username="c_cashier", role=Role.CASHIER, unit=world.bureau_a)
    r = refunds.refund_request(
        actor=Actor(user=cashier), account=world.acct_a, amount="60.00", reason="多缴", method="cash"
    )
    c = login(world.a_manager)
    for bad in ({"note": "ok"}, {"note": "ok", "decision": "aprove"}):
        resp = c.post(f"/payments/refunds/{r.pk}/decide/", bad)
        assert resp.status_code == 400 and "请选择批准或驳回" in resp.content.decode()
        assert Refund.objects.get(pk=r.pk).status == "pending"
    resp = c.post(f"/payments/refunds/{r.pk}/decide/", {"note": "ok", "decision": "reject"})
    assert resp.status_code == 302 and Refund.objects.get(pk=r.pk).status == "rejected"
