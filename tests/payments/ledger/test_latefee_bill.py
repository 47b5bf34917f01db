"""A bill's late fee payment by payment (issue 10 §3, 供电营业规则 art. 98): the pure rule in
`payments.ledger.latefee` that the ledger, the statement and `POST /late-fee/calculate` share.

Every expected amount is worked out by hand in the comments. Residential: 0.1 % a day; other classes:
0.2 % a day in the bill's own year, 0.3 % in later years. The 1.00 minimum is on the bill's cumulative fee.
"""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcare.customers.choices import CustomerClass
from gridcare.payments.ledger.latefee import (
    FeeState,
    FeeTerms,
    fee_accrued,
    fee_charge,
    fee_due,
    late_fee,
    late_fee_calculate,
    payment_apply,
)

RES = CustomerClass.RESIDENTIAL.value
COM = CustomerClass.COMMERCIAL.value
DUE = date(2026, 11, 20)  # a 2026-10 bill


def calc(payments, as_of, principal="100.00", customer_class=RES, bill_year=2026, due_date=DUE):
    return late_fee_calculate(
        customer_class=customer_class,
        bill_year=bill_year,
        due_date=due_date,
        principal=D(principal),
        payments=[(on, D(amount)) for on, amount in payments],
        as_of=as_of,
    )


def charges(c):
    return [(s.on, s.late_fee, s.principal) for s in c.charges]


def totals(c):
    return (c.late_fee_total, c.principal_outstanding, c.late_fee_due, c.credit)


# ---------------------------------------------------------------- the issue's example


def test_the_issue_example():
    c = calc([(date(2026, 11, 21), "1.00"), (date(2026, 12, 20), "101.97")], date(2026, 12, 20))
    # 21 Nov, 1 day late: 100.00 × 0.001 × 1 = 0.10 fee first, 1.00 − 0.10 = 0.90 principal → 99.10 left
    # 20 Dec, 29 days after 21 Nov: 99.10 × 0.001 × 29 = 2.8739 → 2.87 fee; 101.97 − 2.87 = 99.10 principal
    assert charges(c) == [
        (date(2026, 11, 21), D("0.10"), D("0.90")),
        (date(2026, 12, 20), D("2.87"), D("99.10")),
    ]
    # 0.10 + 2.87 = 2.97 in all (the old rule's 1.00 + 100 × 0.001 × 29 = 3.90 is gone)
    assert totals(c) == (D("2.97"), D("0.00"), D("0.00"), D("0.00"))
    assert [str(x) for x in totals(c)] == ["2.97", "0.00", "0.00", "0.00"]


def test_the_issue_example_before_the_second_payment():
    c = calc([(date(2026, 11, 21), "1.00")], date(2026, 12, 20))
    # Due on 20 Dec: 99.10 × 0.001 × 29 = 2.87; the bill's fee 0.10 + 2.87 = 2.97 ≥ 1.00, no shortfall
    assert totals(c) == (D("0.10"), D("99.10"), D("2.87"), D("0.00"))


# ---------------------------------------------------------------- on time, one day late


def test_paid_on_the_due_date_has_no_fee():
    c = calc([(date(2026, 11, 10), "40.00"), (DUE, "60.00")], DUE)
    assert charges(c) == [(date(2026, 11, 10), D("0.00"), D("40.00")), (DUE, D("0.00"), D("60.00"))]
    assert totals(c) == (D("0.00"), D("0.00"), D("0.00"), D("0.00"))


def test_one_day_late_paid_in_full_pays_the_minimum():
    # 100.00 × 0.001 × 1 = 0.10 accrued; 101.00 ≥ 0.10 + 100.00 pays the principal off, so the shortfall
    # 1.00 − 0.10 = 0.90 is charged with it: fee 1.00, principal 100.00, nothing left
    c = calc([(date(2026, 11, 21), "101.00")], date(2026, 11, 21))
    assert charges(c) == [(date(2026, 11, 21), D("1.00"), D("100.00"))]
    assert totals(c) == (D("1.00"), D("0.00"), D("0.00"), D("0.00"))
    assert c.charges[0].shortfall == D("0.90") and c.charges[0].fee_charged == D("1.00")


def test_one_day_late_shows_one_yuan_due():
    # Nothing paid, 1 day late: max(100 × 0.001 × 1 = 0.10, 1.00) − 0.00 charged = 1.00
    assert totals(calc([], date(2026, 11, 21))) == (D("0.00"), D("100.00"), D("1.00"), D("0.00"))
    # Not overdue yet (as of the due date, or before it): nothing is due, no minimum
    assert calc([], DUE).late_fee_due == D("0.00")
    assert calc([], date(2026, 11, 1)).late_fee_due == D("0.00")


def test_fee_over_the_minimum_has_no_shortfall():
    # 40 days late: 100 × 0.001 × 40 = 4.00 ≥ 1.00 → 104.00 settles
    c = calc([(date(2026, 12, 30), "104.00")], date(2026, 12, 30))
    assert charges(c) == [(date(2026, 12, 30), D("4.00"), D("100.00"))]
    assert c.charges[0].shortfall == D("0.00")


# ---------------------------------------------------------------- partial payments


def test_partial_payments_never_reaching_the_principal_show_the_shortfall_due():
    # 25 Nov, 5 days late: 100 × 0.001 × 5 = 0.50 fee, 30.00 − 0.50 = 29.50 principal → 70.50 left
    # 30 Nov: 70.50 × 0.001 × 5 = 0.3525 → 0.35 accrued; the bill's fee 0.50 + 0.35 = 0.85 < 1.00, so the
    # shortfall 0.15 is due too: 0.35 + 0.15 = 0.50 due (0.50 paid + 0.50 due = the 1.00 minimum)
    c = calc([(date(2026, 11, 25), "30.00")], date(2026, 11, 30))
    assert charges(c) == [(date(2026, 11, 25), D("0.50"), D("29.50"))]
    assert totals(c) == (D("0.50"), D("70.50"), D("0.50"), D("0.00"))


def test_paying_what_is_shown_due_settles_the_bill():
    # The state of the previous test, settled on 30 Nov with 70.50 + 0.50 = 71.00: 0.35 accrued, then the
    # principal is paid off with the bill's fee at 0.85, so the 0.15 shortfall goes with it
    c = calc([(date(2026, 11, 25), "30.00"), (date(2026, 11, 30), "71.00")], date(2026, 11, 30))
    assert charges(c)[1] == (date(2026, 11, 30), D("0.50"), D("70.50"))
    assert c.charges[1].shortfall == D("0.15")
    assert totals(c) == (D("1.00"), D("0.00"), D("0.00"), D("0.00"))


def test_each_charge_is_rounded_once():
    # Principal 4.00: each day accrues 4 × 0.001 = 0.004 → 0.00 when charged daily. 1.00 a day for three
    # days leaves 1.00 of principal; the fourth payment pays it off and the minimum applies: 1.00 − 0 = 1.00
    days = [date(2026, 11, 21) + timedelta(days=i) for i in range(4)]
    c = calc([(days[0], "1.00"), (days[1], "1.00"), (days[2], "1.00"), (days[3], "2.00")], days[3], "4.00")
    assert charges(c) == [
        (days[0], D("0.00"), D("1.00")),
        (days[1], D("0.00"), D("1.00")),
        (days[2], D("0.00"), D("1.00")),
        (days[3], D("1.00"), D("1.00")),
    ]
    assert totals(c) == (D("1.00"), D("0.00"), D("0.00"), D("0.00"))


def test_payment_reaching_the_principal_but_not_the_shortfall_leaves_principal_open():
    # 21 Nov: 0.10 accrued; 100.50 ≥ 0.10 + 100.00 would pay the principal off, so the 0.90 shortfall is
    # charged; fee first: 1.00 fee, 99.50 principal → 0.50 principal stays open
    c = calc([(date(2026, 11, 21), "100.50")], date(2026, 11, 21))
    assert charges(c) == [(date(2026, 11, 21), D("1.00"), D("99.50"))]
    assert totals(c) == (D("1.00"), D("0.50"), D("0.00"), D("0.00"))
    # 30 days on: 0.50 × 0.001 × 30 = 0.015 → 0.02 (half-up); the bill's fee is already 1.00: no shortfall
    assert calc([(date(2026, 11, 21), "100.50")], date(2026, 12, 21)).late_fee_due == D("0.02")


def test_payment_smaller_than_the_accrued_fee_pays_fee_only_and_the_rest_stays_due():
    # 1000.00 due 20 Nov; 10 Dec: 1000 × 0.001 × 20 = 20.00 accrued, the 5.00 paid all goes to it; the
    # 15.00 it does not cover stays owed, and the principal stays 1000.00 and keeps accruing.
    c = calc([(date(2026, 12, 10), "5.00")], date(2026, 12, 20), principal="1000.00")
    assert charges(c) == [(date(2026, 12, 10), D("5.00"), D("0.00"))]
    # 20 Dec: 15.00 uncovered + 1000 × 0.001 × 10 = 10.00 accrued = 25.00 due;
    # 5.00 paid + 25.00 due = 30.00 = 1000 × 0.001 × 30
    assert totals(c) == (D("5.00"), D("1000.00"), D("25.00"), D("0.00"))
    # Settling on 20 Dec with 1025.00: 25.00 fee first, then 1000.00
    c = calc([(date(2026, 12, 10), "5.00"), (date(2026, 12, 20), "1025.00")], date(2026, 12, 20), "1000.00")
    assert charges(c)[1] == (date(2026, 12, 20), D("25.00"), D("1000.00"))
    assert totals(c) == (D("30.00"), D("0.00"), D("0.00"), D("0.00"))


# ---------------------------------------------------------------- credit


def test_overpayment_and_payments_after_the_bill_is_settled_are_credit():
    # 21 Nov: 1.00 fee (0.10 + 0.90 shortfall) + 100.00 principal out of 150.00 → 49.00 over
    # 1 Dec: the bill is settled, 20.00 all credit → 69.00
    c = calc([(date(2026, 11, 21), "150.00"), (date(2026, 12, 1), "20.00")], date(2026, 12, 31))
    assert charges(c) == [
        (date(2026, 11, 21), D("1.00"), D("100.00")),
        (date(2026, 12, 1), D("0.00"), D("0.00")),
    ]
    assert totals(c) == (D("1.00"), D("0.00"), D("0.00"), D("69.00"))


def test_payments_are_applied_in_date_order():
    # Given out of order: 25 Nov 30.00 is applied before 30 Nov 71.00 (as in the partial-payment test)
    c = calc([(date(2026, 11, 30), "71.00"), (date(2026, 11, 25), "30.00")], date(2026, 11, 30))
    assert charges(c) == [
        (date(2026, 11, 25), D("0.50"), D("29.50")),
        (date(2026, 11, 30), D("0.50"), D("70.50")),
    ]


# ---------------------------------------------------------------- other classes across a year end


def test_commercial_across_the_year_end():
    # A commercial 2026-11 bill of 1000.00 due 20 Dec 2026.
    # 31 Dec 2026: 21…31 Dec = 11 days at 0.2 % → 1000 × 0.022 = 22.00 fee; 100.00 − 22.00 = 78.00 principal
    # → 922.00 left. 5 Jan 2027: 1…5 Jan = 5 days in a later year at 0.3 % → 922 × 0.015 = 13.83
    c = calc(
        [(date(2026, 12, 31), "100.00"), (date(2027, 1, 5), "935.83")],
        date(2027, 1, 5),
        principal="1000.00",
        customer_class=COM,
        due_date=date(2026, 12, 20),
    )
    assert charges(c) == [
        (date(2026, 12, 31), D("22.00"), D("78.00")),
        (date(2027, 1, 5), D("13.83"), D("922.00")),
    ]
    assert totals(c) == (D("35.83"), D("0.00"), D("0.00"), D("0.00"))


def test_commercial_first_payment_spanning_the_year_end():
    # Same bill, 500.00 on 10 Jan 2027: 11 days at 0.2 % + 10 days at 0.3 % → 1000 × (0.022 + 0.030) = 52.00
    # fee, 448.00 principal → 552.00 left; as of 20 Jan: 552 × 0.003 × 10 = 16.56 due
    c = calc(
        [(date(2027, 1, 10), "500.00")],
        date(2027, 1, 20),
        principal="1000.00",
        customer_class=COM,
        due_date=date(2026, 12, 20),
    )
    assert charges(c) == [(date(2027, 1, 10), D("52.00"), D("448.00"))]
    assert totals(c) == (D("52.00"), D("552.00"), D("16.56"), D("0.00"))


def test_december_bill_due_in_january_is_all_later_year_for_commercial_not_residential():
    # A 2026-12 bill (bill year 2026) of 200.00 due 15 Jan 2027, as of 25 Jan: 10 days, all in 2027.
    # Commercial: 200 × 0.003 × 10 = 6.00. Residential: 200 × 0.001 × 10 = 2.00.
    args = {"principal": "200.00", "due_date": date(2027, 1, 15)}
    assert calc([], date(2027, 1, 25), customer_class=COM, **args).late_fee_due == D("6.00")
    assert calc([], date(2027, 1, 25), customer_class=RES, **args).late_fee_due == D("2.00")


# ---------------------------------------------------------------- the building blocks


def test_fee_due_is_max_of_accrued_and_the_minimum_less_what_was_charged():
    terms = FeeTerms(customer_class=RES, bill_year=2026, due_date=DUE)
    # 0.30 charged up to 23 Nov on 100.00 − 50.00 paid; 30 Nov: 50 × 0.001 × 7 = 0.35 accrued;
    # max(0.30 + 0.35, 1.00) − 0.30 = 0.70
    state = FeeState(
        principal=D("100.00"),
        principal_paid=D("50.00"),
        fee_charged=D("0.30"),
        fee_through=date(2026, 11, 23),
    )
    assert fee_accrued(terms, state, date(2026, 11, 30)) == D("0.35")
    assert fee_due(terms, state, date(2026, 11, 30)) == D("0.70")
    # A waiver does not make the minimum due again: 0.30 charged and waived still counts as charged
    waived = FeeState(**{**_fields(state), "fee_waived": D("0.30")})
    assert fee_due(terms, waived, date(2026, 11, 30)) == D("0.70")
    # Principal paid: nothing accrues, nothing more is due
    paid = FeeState(**{**_fields(state), "principal_paid": D("100.00")})
    assert fee_due(terms, paid, date(2026, 12, 30)) == D("0.00")


def test_fee_charge_moves_fee_through_and_settle_adds_the_shortfall():
    terms = FeeTerms(customer_class=RES, bill_year=2026, due_date=DUE)
    state = FeeState(principal=D("100.00"))
    plain = fee_charge(terms, state, date(2026, 11, 22))  # 100 × 0.001 × 2 = 0.20
    assert (plain.amount, plain.shortfall, plain.state.fee_charged) == (D("0.20"), D("0.00"), D("0.20"))
    assert plain.state.fee_through == date(2026, 11, 22)
    settled = fee_charge(terms, state, date(2026, 11, 22), settle=True)  # 0.20 + 0.80
    assert (settled.amount, settled.shortfall, settled.state.fee_charged) == (D("1.00"), D("0.80"), D("1.00"))
    # Before the due date nothing is charged and fee_through stays unset
    early = fee_charge(terms, state, date(2026, 11, 1), settle=True)
    assert (early.amount, early.state.fee_through) == (D("0.00"), None)


def test_payment_apply_refuses_a_negative_amount():
    terms = FeeTerms(customer_class=RES, bill_year=2026, due_date=DUE)
    with pytest.raises(ValueError, match="amount"):
        payment_apply(terms, FeeState(principal=D("1.00")), amount=D("-1.00"), on=DUE)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"principal": "0.00"}, "principal"),
        ({"payments": [(date(2026, 12, 21), "1.00")]}, "after as_of"),
        ({"payments": [(date(2026, 12, 1), "0.00")]}, "amount"),
    ],
)
def test_late_fee_calculate_refuses_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        calc(**{"payments": [], "as_of": date(2026, 12, 20), **kwargs})


def _fields(state: FeeState) -> dict:
    return {f: getattr(state, f) for f in FeeState.__slots__}


# ---------------------------------------------------------------- invariants

money = st.decimals(
    min_value=D("0.01"), max_value=D("2000.00"), places=2, allow_nan=False, allow_infinity=False
)


@st.composite
def bills(draw):
    customer_class = draw(st.sampled_from([c.value for c in CustomerClass]))
    period_start = draw(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 1))).replace(day=1)
    due_date = period_start + timedelta(days=draw(st.integers(min_value=0, max_value=120)))
    principal = draw(money)
    n = draw(st.integers(min_value=0, max_value=8))
    offsets = draw(st.lists(st.integers(min_value=-40, max_value=500), min_size=n, max_size=n))
    amounts = draw(st.lists(money, min_size=n, max_size=n))
    payments = [(due_date + timedelta(days=o), a) for o, a in zip(offsets, amounts, strict=True)]
    last = max([due_date - timedelta(days=40), *(p[0] for p in payments)])
    as_of = last + timedelta(days=draw(st.integers(min_value=0, max_value=400)))
    return {
        "customer_class": customer_class,
        "bill_year": period_start.year,
        "due_date": due_date,
        "principal": principal,
        "payments": payments,
        "as_of": as_of,
    }


def _two_places(x: D) -> bool:
    return x.as_tuple().exponent == -2 and x >= 0


@settings(max_examples=300, deadline=None)
@given(bill=bills())
def test_invariants(bill):
    c = late_fee_calculate(**bill)
    paid = sum((a for _d, a in bill["payments"]), D("0"))
    # Principal is conserved; every payment is fee, principal or credit
    assert sum((s.principal for s in c.charges), D("0")) + c.principal_outstanding == bill["principal"]
    assert c.late_fee_total + sum((s.principal for s in c.charges), D("0")) + c.credit == paid
    assert all(_two_places(x) for x in (c.late_fee_total, c.principal_outstanding, c.late_fee_due, c.credit))
    assert all(_two_places(s.late_fee) and _two_places(s.principal) for s in c.charges)
    # Credit only once the principal is paid; no fee due on a paid bill
    assert c.credit == 0 or c.principal_outstanding == 0
    if c.principal_outstanding == 0:
        assert c.late_fee_due == 0
    # Paid late in full → the bill's fee is at least 1.00; paid in full on time → no fee at all
    payoff = next((s.on for s in c.charges if s.state.principal_outstanding == 0), None)
    if payoff is not None and payoff > bill["due_date"]:
        assert c.late_fee_total >= D("1.00")
    if all(on <= bill["due_date"] for on, _a in bill["payments"]):
        assert c.late_fee_total == 0
    # Overdue and still open → what is paid and due together reach the minimum
    if c.principal_outstanding > 0 and bill["as_of"] > bill["due_date"]:
        assert c.late_fee_total + c.late_fee_due >= D("1.00")


@settings(max_examples=300, deadline=None)
@given(bill=bills())
def test_paying_what_is_due_on_as_of_settles_exactly(bill):
    # What the statement shows due (principal + late_fee_due) settles the bill to the fen on as_of.
    c = late_fee_calculate(**bill)
    if c.principal_outstanding == 0:
        return
    due = c.principal_outstanding + c.late_fee_due
    settled = late_fee_calculate(**{**bill, "payments": [*bill["payments"], (bill["as_of"], due)]})
    last = settled.charges[-1]
    assert (last.late_fee, last.principal) == (c.late_fee_due, c.principal_outstanding)
    assert (settled.principal_outstanding, settled.late_fee_due, settled.credit) == (D("0"), D("0"), c.credit)


@settings(max_examples=300, deadline=None)
@given(bill=bills())
def test_one_payment_in_full_is_one_computation_over_the_whole_period(bill):
    # A single payment of everything on as_of: its fee is the whole-period fee with the 1.00 minimum.
    whole = late_fee(
        principal=bill["principal"],
        due_date=bill["due_date"],
        as_of=bill["as_of"],
        customer_class=bill["customer_class"],
        bill_year=bill["bill_year"],
    )
    c = late_fee_calculate(**{**bill, "payments": [(bill["as_of"], bill["principal"] + whole)]})
    assert (c.late_fee_total, c.principal_outstanding, c.credit) == (whole, D("0.00"), D("0.00"))
