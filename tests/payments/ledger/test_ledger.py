"""Receivables, payments, allocation order, credit, reversal and idempotency, with hand-computed figures.

张三's account 3100000001 is residential: late fee 0.1 % per day after the due date. The 1.00 minimum is on a
bill's cumulative fee (供电营业规则 art. 98): each payment is charged the fee accrued up to its day, and the
payment that pays off the principal is charged the shortfall to 1.00 (fee before principal).
"""

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from gridcare.billing.models import Bill, BillStatus
from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.payments.ledger import services
from gridcare.payments.ledger import statement as selectors
from gridcare.payments.models import Allocation, LedgerEntry, Payment, Receivable

D = Decimal
SYSTEM = Actor()


def issued_bill(account, period: str, amount: str, due: date, issued_on: date | None = None) -> Bill:
    y, m = (int(x) for x in period.split("-"))
    bill = Bill.objects.create(
        account=account,
        unit=account.unit,
        period_start=date(y, m, 1),
        period_end=date(y, m, 28),
        tariff_code="RES-TIER",
        kwh_total=D(0),
        amount=D(amount),
        status=BillStatus.ISSUED,
        due_date=due,
        issued_at=timezone.now(),
        created_at=timezone.now(),
    )
    services.receivables_open([bill.pk], on=issued_on or due.replace(day=5))
    return bill


def pay(amount: str, on: date, txn: str, account_number="3100000001", channel="counter_cash"):
    when = timezone.make_aware(datetime(on.year, on.month, on.day, 10))  # noqa: DTZ001
    return services.payment_record(
        actor=SYSTEM,
        channel=channel,
        channel_txn_id=txn,
        account_number=account_number,
        amount=amount,
        paid_at=when,
    )


@pytest.fixture
def two_bills(world):
    a = issued_bill(world.acct_a, "2026-08", "100.00", date(2026, 9, 20))
    b = issued_bill(world.acct_a, "2026-09", "80.00", date(2026, 10, 20))
    return a, b


def receivable(bill):
    return Receivable.objects.get(bill=bill)


def test_oldest_debt_first_and_late_fee_before_principal(world, two_bills):
    a, b = two_bills
    rec = pay("150.00", date(2026, 10, 10), "T1")
    assert rec.created
    # Bill A is 20 days late on 10 October: 100 × 0.001 × 20 = 2.00 fee, paid first, then its 100.00;
    # the remaining 48.00 goes to bill B (not due yet, no fee): 80 − 48 = 32.00 left.
    ra, rb = receivable(a), receivable(b)
    assert (ra.fee_charged, ra.fee_paid, ra.principal_paid) == (D("2.00"), D("2.00"), D("100.00"))
    assert (rb.fee_charged, rb.principal_paid) == (D("0.00"), D("48.00"))
    allocs = list(
        Allocation.objects.order_by("id").values_list("receivable__bill_id", "late_fee", "principal")
    )
    assert allocs == [(a.pk, D("2.00"), D("100.00")), (b.pk, D("0.00"), D("48.00"))]
    assert rec.payment.unallocated == D("0.00")
    # Ledger: +100 +80 (bills) +2 (fee) −150 (payment) = 32.00 owed
    assert selectors.ledger_balance(world.acct_a.pk) == D("32.00")
    assert AuditEvent.objects.filter(action="payment.record", object_id=str(rec.payment.pk)).exists()


def test_statement_as_of_a_date(world, two_bills):
    pay("150.00", date(2026, 10, 10), "T1")
    st = selectors.statement(world.acct_a, date(2026, 10, 30))
    # Only B is open: 32.00, 10 days late → 32 × 0.001 × 10 = 0.32 accrued; nothing charged on B yet, so
    # what is shown due is max(0.32, 1.00) − 0.00 = 1.00
    assert [(ln.period, ln.principal_outstanding, ln.late_fee, ln.days_overdue) for ln in st.lines] == [
        ("2026-09", D("32.00"), D("1.00"), 10)
    ]
    assert (st.principal_outstanding, st.late_fee, st.amount_due) == (D("32.00"), D("1.00"), D("33.00"))


def test_overpayment_becomes_credit_and_pays_the_next_bill(world, two_bills):
    _a, b = two_bills
    pay("150.00", date(2026, 10, 10), "T1")
    rec = pay("50.00", date(2026, 10, 25), "T2")
    # B: 5 days late on 32.00 → 32 × 0.001 × 5 = 0.16 accrued. 50.00 ≥ 0.16 + 32.00 pays B's principal in
    # full, so the same payment is charged the shortfall 1.00 − 0.16 = 0.84 (fee before principal):
    # fee 1.00, then 32.00; 50 − 33 = 17.00 left as credit
    rb = receivable(b)
    assert (rb.fee_charged, rb.fee_paid, rb.principal_paid) == (D("1.00"), D("1.00"), D("80.00"))
    fee_entries = LedgerEntry.objects.filter(kind="late_fee", bill=b).order_by("id")
    assert [(e.amount, e.note) for e in fee_entries] == [
        (D("0.16"), "2026-09 违约金计至 2026-10-25"),
        (D("0.84"), "2026-09 违约金不足1元，按1元收取"),
    ]
    assert rec.payment.unallocated == D("17.00")
    assert selectors.ledger_balance(world.acct_a.pk) == D("-17.00")
    assert selectors.statement(world.acct_a, date(2026, 10, 25)).credit == D("17.00")
    c = issued_bill(world.acct_a, "2026-10", "60.00", date(2026, 11, 20))
    # The credit pays 17.00 of the new 60.00 bill the moment it is issued
    assert receivable(c).principal_paid == D("17.00")
    assert Payment.objects.get(pk=rec.payment.pk).unallocated == D("0.00")
    assert selectors.ledger_balance(world.acct_a.pk) == D("43.00")


def test_reversal_reopens_the_debts(world, two_bills):
    a, b = two_bills
    rec = pay("150.00", date(2026, 10, 10), "T1")
    services.payment_reverse(actor=SYSTEM, payment=rec.payment, reason="支票退票")
    ra, rb = receivable(a), receivable(b)
    # The fee charged on A stays owed (it was due); what the payment paid is undone
    assert (ra.principal_paid, ra.fee_paid, ra.fee_charged) == (D("0.00"), D("0.00"), D("2.00"))
    assert rb.principal_paid == D("0.00")
    assert Allocation.objects.filter(reversed=False).count() == 0
    # +100 +80 +2 −150 +150 = 182.00 owed
    assert selectors.ledger_balance(world.acct_a.pk) == D("182.00")
    with pytest.raises(ValidationError):
        services.payment_reverse(actor=SYSTEM, payment=rec.payment, reason="again")
    # As of 30 October: A owes 100.00 and the 2.00 fee charged up to 10 October, plus 20 more days
    # (10 → 30 October) on 100.00: 100 × 0.001 × 20 = 2.00; A's fee is 2.00 + 2.00 = 4.00 ≥ 1.00, no
    # shortfall → 4.00. B owes its 80.00 in full, 10 days late: 80 × 0.001 × 10 = 0.80 accrued, nothing
    # charged → max(0.80, 1.00) − 0.00 = 1.00.
    st = selectors.statement(world.acct_a, date(2026, 10, 30))
    assert [(ln.period, ln.principal_outstanding, ln.late_fee) for ln in st.lines] == [
        ("2026-08", D("100.00"), D("4.00")),
        ("2026-09", D("80.00"), D("1.00")),
    ]


def test_the_minimum_is_on_the_bills_total_fee_not_on_its_first_charge(world):
    """Issue 10 §3: a residential bill of 100.00 due 20 November, 1.00 paid the day after, the rest 29 days
    later. Before the fix the first day's 0.10 was raised to 1.00 and took the whole first payment, so
    100.00 kept accruing: 1.00 + 100 × 0.001 × 29 = 3.90 in all."""
    bill = issued_bill(world.acct_a, "2026-10", "100.00", date(2026, 11, 20))
    # 21 November, 1 day late: 100.00 × 0.001 × 1 = 0.10 charged and paid first; 1.00 − 0.10 = 0.90 principal
    first = pay("1.00", date(2026, 11, 21), "T1")
    r = receivable(bill)
    assert (r.fee_charged, r.fee_paid, r.principal_paid) == (D("0.10"), D("0.10"), D("0.90"))
    # Principal left: 100.00 − 0.90 = 99.10. On 20 December (29 days after 21 November) the statement shows
    # 99.10 × 0.001 × 29 = 2.8739 → 2.87 (the bill's fee, 0.10 + 2.87, is over 1.00: no shortfall)
    st = selectors.statement(world.acct_a, date(2026, 12, 20))
    assert (st.principal_outstanding, st.late_fee, st.amount_due) == (D("99.10"), D("2.87"), D("101.97"))
    # Paying that 101.97 on 20 December: 2.87 fee, then 99.10 principal, nothing left
    second = pay("101.97", date(2026, 12, 20), "T2")
    r = receivable(bill)
    # Total fee 0.10 + 2.87 = 2.97 (not 3.90)
    assert (r.fee_charged, r.fee_paid, r.principal_paid) == (D("2.97"), D("2.97"), D("100.00"))
    allocs = list(Allocation.objects.order_by("id").values_list("payment_id", "late_fee", "principal"))
    assert allocs == [
        (first.payment.pk, D("0.10"), D("0.90")),
        (second.payment.pk, D("2.87"), D("99.10")),
    ]
    assert second.payment.unallocated == D("0.00")
    # +100.00 bill +0.10 fee −1.00 +2.87 fee −101.97 = 0.00
    assert selectors.ledger_balance(world.acct_a.pk) == D("0.00")
    assert selectors.statement(world.acct_a, date(2026, 12, 20)).lines == []


def test_same_notification_twice_records_once(world, two_bills):
    first = pay("150.00", date(2026, 10, 10), "ALI-1", channel="alipay")
    again = pay("150.00", date(2026, 10, 10), "ALI-1", channel="alipay")
    assert first.created and not again.created and again.payment.pk == first.payment.pk
    assert Payment.objects.count() == 1 and LedgerEntry.objects.filter(kind="payment").count() == 1
    # The same transaction id on another channel is another payment
    assert pay("10.00", date(2026, 10, 10), "ALI-1", channel="wechat").created


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "1E+2"}, "amount"),  # exponent notation is not an amount a person writes
        ({"amount": "1,000"}, "amount"),
        ({"account_number": "9999999999"}, "account_number"),
        ({"txn": ""}, "channel_txn_id"),
        ({"channel": "bitcoin"}, "channel"),
    ],
)
def test_bad_payments_are_refused_and_nothing_written(world, two_bills, kwargs, field):
    args = {"amount": "10.00", "on": date(2026, 10, 10), "txn": "T9", **kwargs}
    with pytest.raises(ValidationError) as exc:
        pay(**args)
    assert field in exc.value.message_dict
    assert not Payment.objects.exists() and not LedgerEntry.objects.filter(kind="payment").exists()


def test_reused_transaction_id_with_another_amount_is_refused(world, two_bills):
    pay("150.00", date(2026, 10, 10), "T1")
    with pytest.raises(ValidationError) as exc:
        pay("15.00", date(2026, 10, 10), "T1")
    assert "channel_txn_id" in exc.value.message_dict and Payment.objects.count() == 1


def test_issuing_a_run_opens_receivables(world, route):
    from gridcare.billing import services as billing
    from tests.billing.test_runs import at, read, start

    read(world.acct_a, at(2026, 10, 5), "150")  # 150 × 0.538 = 80.70
    run = billing.billing_run_execute(start(route).pk)
    billing.bills_issue(actor=SYSTEM, run=run)
    r = Receivable.objects.get(account=world.acct_a)
    assert (r.principal, r.period, r.customer_class) == (D("80.70"), "2026-10", "residential")
    assert LedgerEntry.objects.get(account=world.acct_a, kind="bill").amount == D("80.70")


def test_cancelled_bill_moves_its_payments_to_the_correcting_bill(world, route):
    """Bill 80.70 (150 kWh × 0.538) issued 5 Nov, 50.00 paid on 10 Nov, then cancelled and re-billed at
    64.56 (120 kWh × 0.538): the 50.00 becomes credit, then pays the correcting bill when it is issued."""
    from gridcare.billing import services as billing
    from gridcare.metering.models import MeterRead
    from tests.billing.test_runs import at, read, start

    read(world.acct_a, at(2026, 10, 5), "150")
    run = billing.billing_run_execute(start(route).pk)
    issue_at = timezone.make_aware(datetime(2026, 11, 5, 10))  # noqa: DTZ001
    billing.bills_issue(actor=SYSTEM, run=run, now=issue_at)
    old = Bill.objects.get(account=world.acct_a)
    rec = pay("50.00", date(2026, 11, 10), "T1")
    assert receivable(old).principal_paid == D("50.00")
    MeterRead.objects.filter(account=world.acct_a).update(consumption=D("120"))
    new = billing.bill_cancel_rebill(actor=SYSTEM, bill=old, reason="抄表错误")
    r_old = receivable(old)
    assert r_old.cancelled_at is not None and r_old.principal_paid == D("0.00")
    assert Payment.objects.get(pk=rec.payment.pk).unallocated == D("50.00")
    # +80.70 (bill) −50.00 (payment) −80.70 (cancelled) = −50.00: a credit of 50.00
    assert selectors.ledger_balance(world.acct_a.pk) == D("-50.00")
    assert selectors.statement(world.acct_a, date(2026, 11, 12)).lines == []
    billing.bills_issue(actor=SYSTEM, run=run, now=timezone.make_aware(datetime(2026, 11, 12, 10)))  # noqa: DTZ001
    r_new = receivable(new)
    assert (r_new.principal, r_new.principal_paid) == (D("64.56"), D("50.00"))
    # −50.00 + 64.56 = 14.56 owed, all of it on the correcting bill
    assert selectors.ledger_balance(world.acct_a.pk) == D("14.56")
    st = selectors.statement(world.acct_a, date(2026, 11, 12))
    assert [(ln.period, ln.principal_outstanding) for ln in st.lines] == [("2026-10", D("14.56"))]
