"""The ledger, the statement and the amounts-due selector apply the late-fee minimum on the bill's total
(issue 10 §3), through the same pure function as `POST /late-fee/calculate`.

张三's account 3100000001 is residential: 0.1 % a day after the due date.
"""

from datetime import date, timedelta
from decimal import Decimal as D

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridcare.core.audit import Actor
from gridcare.customers.choices import CustomerClass
from gridcare.payments.ledger import selectors as ledger_selectors
from gridcare.payments.ledger import services
from gridcare.payments.ledger import statement as selectors
from gridcare.payments.ledger.latefee import late_fee_calculate
from gridcare.payments.models import Allocation, LedgerEntry, Payment, Receivable
from tests.factories import UserFactory
from tests.payments.ledger.test_ledger import issued_bill, pay

DUE = date(2026, 11, 20)


def fee_entries(bill):
    return [(e.amount, e.note) for e in LedgerEntry.objects.filter(kind="late_fee", bill=bill).order_by("id")]


def test_one_day_late_shows_one_yuan_and_paying_it_settles(world):
    bill = issued_bill(world.acct_a, "2026-10", "100.00", DUE)
    day = date(2026, 11, 21)
    # 1 day late: 100 × 0.001 × 1 = 0.10 accrued, nothing charged: max(0.10, 1.00) − 0.00 = 1.00
    st_ = selectors.statement(world.acct_a, day)
    assert (st_.principal_outstanding, st_.late_fee, st_.amount_due) == (D("100.00"), D("1.00"), D("101.00"))
    assert selectors.amounts_due([world.acct_a.pk], day) == {world.acct_a.pk: D("101.00")}
    assert selectors.amounts_due([world.acct_a.pk], day, due_before=day) == {world.acct_a.pk: D("101.00")}
    (row,) = ledger_selectors.open_items(world.acct_a.pk, day)
    assert (row.fee_unpaid, row.fee_accrued, row.fee_owed, row.total) == (
        D("0.00"),
        D("1.00"),
        D("1.00"),
        D("101.00"),
    )
    # On the due date itself: nothing overdue, no minimum
    assert selectors.statement(world.acct_a, DUE).late_fee == D("0.00")
    # Paying the 101.00 shown: the 0.10 accrued and, as the principal is paid off, the 0.90 shortfall
    rec = pay("101.00", day, "T1")
    r = Receivable.objects.get(bill=bill)
    assert (r.fee_charged, r.fee_paid, r.principal_paid) == (D("1.00"), D("1.00"), D("100.00"))
    assert fee_entries(bill) == [
        (D("0.10"), "2026-10 违约金计至 2026-11-21"),
        (D("0.90"), "2026-10 违约金不足1元，按1元收取"),
    ]
    assert rec.payment.unallocated == D("0.00") and selectors.ledger_balance(world.acct_a.pk) == D("0.00")
    assert selectors.amounts_due([world.acct_a.pk], date(2026, 12, 31)) == {}


def test_partial_payment_shows_the_shortfall_while_principal_remains(world):
    bill = issued_bill(world.acct_a, "2026-10", "100.00", DUE)
    # 25 Nov, 5 days late: 100 × 0.001 × 5 = 0.50 fee, 29.50 principal → 70.50 left (no shortfall charged)
    pay("30.00", date(2026, 11, 25), "T1")
    assert fee_entries(bill) == [(D("0.50"), "2026-10 违约金计至 2026-11-25")]
    # 30 Nov: 70.50 × 0.001 × 5 = 0.3525 → 0.35; 0.50 + 0.35 = 0.85 < 1.00 → + 0.15 → 0.50 due
    st_ = selectors.statement(world.acct_a, date(2026, 11, 30))
    assert (st_.principal_outstanding, st_.late_fee) == (D("70.50"), D("0.50"))
    assert selectors.amounts_due([world.acct_a.pk], date(2026, 11, 30)) == {world.acct_a.pk: D("71.00")}
    # 30 Dec: 70.50 × 0.001 × 35 = 2.4675 → 2.47; 0.50 + 2.47 ≥ 1.00 → 2.47 due, no shortfall
    assert selectors.statement(world.acct_a, date(2026, 12, 30)).late_fee == D("2.47")


def test_two_bills_paid_by_one_payment_each_get_their_minimum(world):
    a = issued_bill(world.acct_a, "2026-09", "50.00", date(2026, 10, 20))
    b = issued_bill(world.acct_a, "2026-10", "80.00", DUE)
    # 22 Nov: A is 33 days late: 50 × 0.001 × 33 = 1.65 (≥ 1.00); B 2 days: 80 × 0.001 × 2 = 0.16 + 0.84
    # Shown due: 50.00 + 1.65 + 80.00 + 1.00 = 132.65, and paying it settles both
    assert selectors.amounts_due([world.acct_a.pk], date(2026, 11, 22)) == {world.acct_a.pk: D("132.65")}
    pay("132.65", date(2026, 11, 22), "T1")
    assert [(r.fee_charged, r.principal_paid) for r in Receivable.objects.order_by("due_date")] == [
        (D("1.65"), D("50.00")),
        (D("1.00"), D("80.00")),
    ]
    assert fee_entries(a) == [(D("1.65"), "2026-09 违约金计至 2026-11-22")]
    assert [x for x, _n in fee_entries(b)] == [D("0.16"), D("0.84")]
    assert selectors.ledger_balance(world.acct_a.pk) == D("0.00")


def test_reversing_the_payoff_keeps_the_fee_it_charged(world):
    bill = issued_bill(world.acct_a, "2026-10", "100.00", DUE)
    rec = pay("101.00", date(2026, 11, 21), "T1")
    services.payment_reverse(actor=Actor(), payment=rec.payment, reason="支票退票")
    r = Receivable.objects.get(bill=bill)
    # The 1.00 charged (0.10 + 0.90) stays owed; 10 more days on 100.00: 100 × 0.001 × 10 = 1.00, and the
    # bill's fee 1.00 + 1.00 is over the minimum: 2.00 owed as of 1 Dec
    assert (r.fee_charged, r.fee_paid, r.principal_paid) == (D("1.00"), D("0.00"), D("0.00"))
    assert selectors.statement(world.acct_a, date(2026, 12, 1)).late_fee == D("2.00")


def test_waiver_of_the_minimum_on_a_bill_one_day_late(world):
    clerk = UserFactory(username="a_billing3", role="billing_clerk", unit=world.bureau_a)
    bill = issued_bill(world.acct_a, "2026-10", "100.00", DUE)
    r = Receivable.objects.get(bill=bill)
    day = date(2026, 11, 21)
    # Shown due: 1.00 (0.10 accrued + 0.90 shortfall); a waiver of all of it may be asked and approved
    w = services.waiver_request(
        actor=Actor(user=clerk), receivable=r, amount="1.00", reason="系统故障", on=day
    )
    services.waiver_decide(actor=Actor(user=world.a_manager), waiver=w, approve=True, on=day)
    r.refresh_from_db()
    assert (r.fee_charged, r.fee_waived, r.fee_through) == (D("1.00"), D("1.00"), day)
    assert selectors.statement(world.acct_a, day).late_fee == D("0.00")
    # 9 days later: 100 × 0.001 × 9 = 0.90; the bill's fee 1.00 + 0.90 is over the minimum (a waiver does
    # not make it due again): 0.90
    assert selectors.statement(world.acct_a, date(2026, 11, 30)).late_fee == D("0.90")


# ---------------------------------------------------------------- the ledger is the what-if

money = st.decimals(
    min_value=D("0.01"), max_value=D("300.00"), places=2, allow_nan=False, allow_infinity=False
)


class _Rollback(Exception):
    pass


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    customer_class=st.sampled_from([CustomerClass.RESIDENTIAL.value, CustomerClass.COMMERCIAL.value]),
    principal=money,
    payments=st.lists(st.tuples(st.integers(min_value=-10, max_value=80), money), max_size=5),
    extra_days=st.integers(min_value=0, max_value=60),
)
def test_the_ledger_applies_payments_as_the_what_if_computes_them(
    world, customer_class, principal, payments, extra_days
):
    # A 2026-11 bill due 20 Dec 2026, so that commercial payments cross the year end.
    due = date(2026, 12, 20)
    dated = sorted((due + timedelta(days=o), a) for o, a in payments)
    as_of = max([due, *(d for d, _a in dated)]) + timedelta(days=extra_days)
    expected = late_fee_calculate(
        customer_class=customer_class,
        bill_year=2026,
        due_date=due,
        principal=principal,
        payments=dated,
        as_of=as_of,
    )
    try:
        with transaction.atomic():
            world.cust_a.customer_class = customer_class
            world.cust_a.save(update_fields=["customer_class"])
            issued_bill(world.acct_a, "2026-11", str(principal), due, issued_on=date(2026, 12, 5))
            for i, (on, amount) in enumerate(dated):
                pay(str(amount), on, f"H{i}")
            allocs = {
                a.payment_id: (a.late_fee, a.principal)
                for a in Allocation.objects.filter(receivable__account=world.acct_a)
            }
            got = [
                allocs.get(p.pk, (D("0.00"), D("0.00"))) for p in Payment.objects.order_by("paid_at", "id")
            ]
            assert got == [(s.late_fee, s.principal) for s in expected.charges]
            st_ = selectors.statement(world.acct_a, as_of)
            assert st_.principal_outstanding == expected.principal_outstanding
            assert st_.late_fee == expected.late_fee_due
            assert st_.credit == expected.credit
            raise _Rollback
    except _Rollback:
        pass
