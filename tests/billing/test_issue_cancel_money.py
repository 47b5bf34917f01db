"""The money of issuing and cancelling a bill (issue 12 §4 "No hidden money moves"): `bills_issue` and
`bill_cancel_rebill` call the ledger themselves, in their own transaction — no signal.

The story: account 3100000001 (RES-TIER, 0.538 元/kWh) paid 100.00 at the counter on 1 Nov 2026 with nothing
owed, so all of it is credit (预存). October 2026 is billed on an estimated read of 150 kWh → 150 × 0.538 =
80.70 元, issued on 5 Nov 2026 (due 20 Nov): the credit pays it at once → 100.00 − 80.70 = 19.30 left. The
read is corrected to 120 kWh and the bill cancelled: the 80.70 goes back to the payment (credit 100.00
again) and the bill leaves the balance. The correcting bill, 120 × 0.538 = 64.56, is paid from the credit
when its run is issued (5 Nov again): 100.00 − 64.56 = 35.44 left."""

from datetime import date
from decimal import Decimal

import pytest

from gridcare.billing import services
from gridcare.billing.models import Bill, BillStatus
from gridcare.payments.choices import EntryKind
from gridcare.payments.ledger import services as ledger_services
from gridcare.payments.models import Allocation, LedgerEntry, Payment, Receivable
from tests.payments.ledger.test_ledger import SYSTEM, pay

from .test_cancel_rebill import correct_the_read
from .test_runs import at, read, start

D = Decimal
ISSUED_AT = at(2026, 11, 5, 10)


@pytest.fixture
def credit_then_draft(world, route):
    """100.00 of credit on 3100000001, then October's draft bill of 80.70."""
    payment = pay("100.00", date(2026, 11, 1), "P-PREPAID").payment
    assert payment.unallocated == D("100.00")
    read(world.acct_a, at(2026, 10, 5), "150")
    run = services.billing_run_execute(start(route).pk)
    (bill,) = Bill.objects.filter(account=world.acct_a)
    assert (bill.amount, bill.status) == (D("80.70"), BillStatus.DRAFT)
    return payment, run, bill


def balance(account) -> Decimal:
    return sum(LedgerEntry.objects.filter(account=account).values_list("amount", flat=True), D("0"))


def test_issuing_opens_the_receivable_and_the_credit_pays_it(world, credit_then_draft):
    payment, run, bill = credit_then_draft
    assert not Receivable.objects.exists()

    assert services.bills_issue(actor=SYSTEM, run=run, now=ISSUED_AT) == 1

    r = Receivable.objects.get(bill=bill)
    assert (r.principal, r.principal_paid, r.due_date) == (D("80.70"), D("80.70"), date(2026, 11, 20))
    assert list(Allocation.objects.values_list("payment_id", "receivable_id", "principal", "late_fee")) == [
        (payment.pk, r.pk, D("80.70"), D("0.00"))
    ]
    payment.refresh_from_db()
    assert payment.unallocated == D("19.30")  # 100.00 − 80.70
    bill_entry = LedgerEntry.objects.get(kind=EntryKind.BILL)
    assert (bill_entry.amount, bill_entry.bill_id, bill_entry.occurred_on) == (
        D("80.70"),
        bill.pk,
        date(2026, 11, 5),
    )
    assert balance(world.acct_a) == D("-19.30")  # −100.00 + 80.70: credit


def test_cancelling_reopens_the_credit_and_the_correction_is_paid_from_it(world, credit_then_draft):
    payment, run, bill = credit_then_draft
    services.bills_issue(actor=SYSTEM, run=run, now=ISSUED_AT)
    correct_the_read(world.acct_a)

    new = services.bill_cancel_rebill(actor=SYSTEM, bill=bill, reason="抄表错误")

    r = Receivable.objects.get(bill=bill)
    assert r.cancelled_at is not None and (r.principal_paid, r.fee_paid) == (D("0.00"), D("0.00"))
    assert list(Allocation.objects.values_list("reversed", flat=True)) == [True]
    payment.refresh_from_db()
    assert payment.unallocated == D("100.00")  # 19.30 + the 80.70 the cancelled bill had taken
    adjustments = list(LedgerEntry.objects.filter(kind=EntryKind.ADJUSTMENT).values_list("amount", "bill_id"))
    assert adjustments == [(D("-80.70"), bill.pk)]  # no late fee was charged: no second adjustment
    assert balance(world.acct_a) == D("-100.00")  # −100.00 + 80.70 − 80.70
    assert (new.amount, new.status, new.corrects_id) == (D("64.56"), BillStatus.DRAFT, bill.pk)
    assert not Receivable.objects.filter(bill=new).exists()  # a draft owes nothing yet

    services.bills_issue(actor=SYSTEM, run=run, now=ISSUED_AT)  # the correction is in the same run

    r_new = Receivable.objects.get(bill=new)
    assert (r_new.principal, r_new.principal_paid) == (D("64.56"), D("64.56"))
    payment.refresh_from_db()
    assert payment.unallocated == D("35.44")  # 100.00 − 64.56
    assert balance(world.acct_a) == D("-35.44")


def test_a_ledger_failure_leaves_the_bills_unissued(world, credit_then_draft, monkeypatch):
    """The ledger write is part of the issue: when it fails, nothing of the issue is kept."""
    payment, run, bill = credit_then_draft

    def broken(bill_ids, *, on=None):
        raise RuntimeError("ledger down")

    monkeypatch.setattr(ledger_services, "receivables_open", broken)
    with pytest.raises(RuntimeError):
        services.bills_issue(actor=SYSTEM, run=run, now=ISSUED_AT)
    bill.refresh_from_db()
    assert (bill.status, bill.issued_at) == (BillStatus.DRAFT, None)
    assert not Receivable.objects.exists()
    assert Payment.objects.get(pk=payment.pk).unallocated == D("100.00")


def test_a_ledger_failure_leaves_the_bill_uncancelled(world, credit_then_draft, monkeypatch):
    payment, run, bill = credit_then_draft
    services.bills_issue(actor=SYSTEM, run=run, now=ISSUED_AT)
    correct_the_read(world.acct_a)

    def broken(*, bill_id, reason="", cancelled_at=None):
        raise RuntimeError("ledger down")

    monkeypatch.setattr(ledger_services, "receivable_cancel", broken)
    with pytest.raises(RuntimeError):
        services.bill_cancel_rebill(actor=SYSTEM, bill=bill, reason="抄表错误")
    bill.refresh_from_db()
    assert (bill.status, bill.cancel_reason) == (BillStatus.ISSUED, "")
    assert Bill.objects.filter(account=world.acct_a).count() == 1  # no correction
    assert Receivable.objects.get(bill=bill).cancelled_at is None
    assert Payment.objects.get(pk=payment.pk).unallocated == D("19.30")


def test_no_signal_moves_money_any_more():
    """The receivers are gone: importing billing's old signals module fails."""
    with pytest.raises(ModuleNotFoundError):
        __import__("gridcare.billing.signals")
