"""Late-payment charge 电费违约金 (SPEC C3, issue 4 §5). Every expected amount is worked out by hand below."""

from datetime import date, datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridcare.customers.choices import CustomerClass
from gridcare.payments.ledger.latefee import (
    LATER_YEAR_RATE,
    OWN_YEAR_RATE,
    RESIDENTIAL_RATE,
    LateFeeBreakdown,
    late_fee,
    late_fee_breakdown,
)

RES = CustomerClass.RESIDENTIAL.value
COM = CustomerClass.COMMERCIAL.value
IND = CustomerClass.LARGE_INDUSTRY.value
AGR = CustomerClass.AGRICULTURAL.value


def test_rates_are_those_of_the_spec():
    assert (RESIDENTIAL_RATE, OWN_YEAR_RATE, LATER_YEAR_RATE) == (D("0.001"), D("0.002"), D("0.003"))


# ---------------------------------------------------------------- residential


def test_residential_ten_days():
    # Due 1 March, as of 11 March: days 2…11 March = 10 days; 200 × 0.001 × 10 = 2.00
    fee = late_fee(
        principal=D("200.00"),
        due_date=date(2026, 3, 1),
        as_of=date(2026, 3, 11),
        customer_class=RES,
        bill_year=2026,
    )
    assert fee == D("2.00")
    assert str(fee) == "2.00"


def test_residential_one_day_gets_the_minimum():
    # 50 × 0.001 × 1 = 0.05 → below the minimum → 1.00
    b = late_fee_breakdown(
        principal=D("50.00"),
        due_date=date(2026, 3, 1),
        as_of=date(2026, 3, 2),
        customer_class=RES,
        bill_year=2026,
    )
    assert (b.days_total, b.raw_amount, b.fee, b.minimum_applied) == (1, D("0.05"), D("1.00"), True)
    assert str(b.fee) == "1.00"


def test_residential_across_a_year_boundary_keeps_one_rate():
    # Residential has no later-year rate: due 2025-12-20, as of 2026-01-10 = 11 + 10 = 21 days
    # 1000 × 0.001 × 21 = 21.00
    b = late_fee_breakdown(
        principal=D("1000.00"),
        due_date=date(2025, 12, 20),
        as_of=date(2026, 1, 10),
        customer_class=RES,
        bill_year=2025,
    )
    assert b.fee == D("21.00")
    assert (b.days_total, b.days_at_own_year_rate, b.days_at_later_rate) == (21, 11, 10)
    assert b.own_year_rate == b.later_year_rate == D("0.001")


def test_fee_just_at_the_minimum_is_not_marked_as_minimum():
    # 100 × 0.001 × 10 = 1.00 exactly: the computed fee itself, not the minimum
    b = late_fee_breakdown(
        principal=D("100.00"),
        due_date=date(2026, 3, 1),
        as_of=date(2026, 3, 11),
        customer_class=RES,
        bill_year=2026,
    )
    assert (b.fee, b.minimum_applied) == (D("1.00"), False)


# ---------------------------------------------------------------- other classes, year boundary


def test_commercial_across_a_year_boundary():
    # Bill year 2025, due 2025-12-20, as of 2026-01-10:
    #   21…31 Dec 2025 = 11 days at 0.2 % → 0.022
    #   1…10 Jan 2026  = 10 days at 0.3 % → 0.030
    # 1000 × (0.022 + 0.030) = 52.00
    b = late_fee_breakdown(
        principal=D("1000.00"),
        due_date=date(2025, 12, 20),
        as_of=date(2026, 1, 10),
        customer_class=COM,
        bill_year=2025,
    )
    assert b == LateFeeBreakdown(
        days_total=21,
        days_at_own_year_rate=11,
        days_at_later_rate=10,
        own_year_rate=D("0.002"),
        later_year_rate=D("0.003"),
        raw_amount=D("52.000"),
        fee=D("52.00"),
        minimum_applied=False,
    )


def test_commercial_as_of_31_december_is_all_own_year():
    # Due 2025-12-20, as of 2025-12-31: 21…31 Dec = 11 days at 0.2 %; 1000 × 0.002 × 11 = 22.00
    fee = late_fee(
        principal=D("1000.00"),
        due_date=date(2025, 12, 20),
        as_of=date(2025, 12, 31),
        customer_class=COM,
        bill_year=2025,
    )
    assert fee == D("22.00")


def test_commercial_as_of_1_january_is_one_later_day():
    # Due 2025-12-20, as of 2026-01-01: 11 days at 0.2 % + 1 day at 0.3 %
    # 1000 × (0.022 + 0.003) = 25.00
    fee = late_fee(
        principal=D("1000.00"),
        due_date=date(2025, 12, 20),
        as_of=date(2026, 1, 1),
        customer_class=COM,
        bill_year=2025,
    )
    assert fee == D("25.00")


def test_large_industry_entirely_in_a_later_year():
    # A December 2025 bill due 2026-01-15, as of 2026-02-14: 16…31 Jan = 16 days + 1…14 Feb = 14 days
    # = 30 days, all in 2026 (later than the bill's year) at 0.3 %: 5000 × 0.003 × 30 = 450.00
    b = late_fee_breakdown(
        principal=D("5000.00"),
        due_date=date(2026, 1, 15),
        as_of=date(2026, 2, 14),
        customer_class=IND,
        bill_year=2025,
    )
    assert (b.days_total, b.days_at_own_year_rate, b.days_at_later_rate) == (30, 0, 30)
    assert b.fee == D("450.00")


def test_spanning_two_year_boundaries():
    # Bill year 2024, due 2024-12-30, as of 2026-01-02:
    #   31 Dec 2024 = 1 day at 0.2 % → 0.002
    #   all of 2025 (365 days) + 1…2 Jan 2026 (2 days) = 367 days at 0.3 % → 1.101
    # 100 × (0.002 + 1.101) = 110.30
    b = late_fee_breakdown(
        principal=D("100.00"),
        due_date=date(2024, 12, 30),
        as_of=date(2026, 1, 2),
        customer_class=AGR,
        bill_year=2024,
    )
    assert (b.days_total, b.days_at_own_year_rate, b.days_at_later_rate) == (368, 1, 367)
    assert b.fee == D("110.30")


def test_every_non_residential_class_uses_the_two_year_rates():
    # 1000 × (0.002 × 11 + 0.003 × 10) = 52.00, as in the commercial case
    for customer_class in (COM, IND, AGR, "some_future_class"):
        assert late_fee(
            principal=D("1000.00"),
            due_date=date(2025, 12, 20),
            as_of=date(2026, 1, 10),
            customer_class=customer_class,
            bill_year=2025,
        ) == D("52.00")


# ---------------------------------------------------------------- not overdue, nothing owed


@pytest.mark.parametrize("customer_class", [RES, COM])
def test_as_of_the_due_date_is_not_overdue(customer_class):
    # days = 0 → no charge and no minimum
    b = late_fee_breakdown(
        principal=D("500.00"),
        due_date=date(2026, 3, 1),
        as_of=date(2026, 3, 1),
        customer_class=customer_class,
        bill_year=2026,
    )
    assert (b.days_total, b.fee, b.minimum_applied) == (0, D("0.00"), False)


@pytest.mark.parametrize("customer_class", [RES, COM])
def test_as_of_before_the_due_date_is_not_overdue(customer_class):
    b = late_fee_breakdown(
        principal=D("500.00"),
        due_date=date(2026, 3, 1),
        as_of=date(2026, 2, 20),
        customer_class=customer_class,
        bill_year=2026,
    )
    assert (b.days_total, b.days_at_own_year_rate, b.days_at_later_rate) == (0, 0, 0)
    assert (b.fee, b.minimum_applied) == (D("0.00"), False)
    assert str(b.fee) == "0.00"


@pytest.mark.parametrize("principal", [D("0"), D("0.00"), D("-20.00")])
def test_nothing_owed_no_fee_and_no_minimum(principal):
    b = late_fee_breakdown(
        principal=principal,
        due_date=date(2026, 3, 1),
        as_of=date(2026, 4, 1),
        customer_class=COM,
        bill_year=2026,
    )
    assert (b.fee, b.minimum_applied) == (D("0.00"), False)


# ---------------------------------------------------------------- rounding and the minimum argument


def test_rounds_half_up_at_half_a_cent():
    # 1001 × 0.001 × 5 = 5.005 → half-up 5.01 (banker's rounding would give 5.00)
    b = late_fee_breakdown(
        principal=D("1001.00"),
        due_date=date(2026, 3, 1),
        as_of=date(2026, 3, 6),
        customer_class=RES,
        bill_year=2026,
    )
    assert b.raw_amount == D("5.005")
    assert b.fee == D("5.01")


def test_rounds_half_up_just_above_the_minimum():
    # 502.50 × 0.002 × 1 = 1.005 → 1.01 (half-even would give 1.00)
    fee = late_fee(
        principal=D("502.50"),
        due_date=date(2026, 3, 1),
        as_of=date(2026, 3, 2),
        customer_class=COM,
        bill_year=2026,
    )
    assert fee == D("1.01")


def test_rounds_down_below_half_a_cent():
    # 1000.40 × 0.001 × 5 = 5.0020 → 5.00
    fee = late_fee(
        principal=D("1000.40"),
        due_date=date(2026, 3, 1),
        as_of=date(2026, 3, 6),
        customer_class=RES,
        bill_year=2026,
    )
    assert fee == D("5.00")


def test_zero_minimum_charges_the_rounded_amount():
    # One accrual charged with a payment (the minimum is on the bill's total, not on each charge):
    # 50 × 0.001 × 3 = 0.15, no minimum
    b = late_fee_breakdown(
        principal=D("50.00"),
        due_date=date(2026, 3, 1),
        as_of=date(2026, 3, 4),
        customer_class=RES,
        bill_year=2026,
        minimum=D("0"),
    )
    assert (b.fee, b.minimum_applied) == (D("0.15"), False)


def test_zero_minimum_may_round_to_nothing():
    # 1.00 × 0.001 × 1 = 0.001 → 0.00
    fee = late_fee(
        principal=D("1.00"),
        due_date=date(2026, 3, 1),
        as_of=date(2026, 3, 2),
        customer_class=RES,
        bill_year=2026,
        minimum=D("0.00"),
    )
    assert fee == D("0.00")


def test_a_custom_minimum_is_given_in_cents():
    # 50 × 0.001 × 1 = 0.05 < 2 → 2.00
    fee = late_fee(
        principal=D("50.00"),
        due_date=date(2026, 3, 1),
        as_of=date(2026, 3, 2),
        customer_class=RES,
        bill_year=2026,
        minimum=D("2"),
    )
    assert str(fee) == "2.00"


# ---------------------------------------------------------------- leap years


def test_leap_year_february_counts_the_29th():
    # 2024 is a leap year: due 20 Feb, as of 1 Mar = 21…29 Feb (9 days) + 1 Mar = 10 days
    # 300 × 0.001 × 10 = 3.00
    b = late_fee_breakdown(
        principal=D("300.00"),
        due_date=date(2024, 2, 20),
        as_of=date(2024, 3, 1),
        customer_class=RES,
        bill_year=2024,
    )
    assert (b.days_total, b.fee) == (10, D("3.00"))


def test_common_year_february_has_no_29th():
    # 2025: due 20 Feb, as of 1 Mar = 21…28 Feb (8 days) + 1 Mar = 9 days; 300 × 0.001 × 9 = 2.70
    fee = late_fee(
        principal=D("300.00"),
        due_date=date(2025, 2, 20),
        as_of=date(2025, 3, 1),
        customer_class=RES,
        bill_year=2025,
    )
    assert fee == D("2.70")


def test_leap_year_counts_366_days_in_the_bills_own_year():
    # Bill year 2024, due 2023-12-31 (its own year starts the next day), as of 2024-12-31:
    # every day of 2024 = 366 days at 0.2 %: 100 × 0.002 × 366 = 73.20
    b = late_fee_breakdown(
        principal=D("100.00"),
        due_date=date(2023, 12, 31),
        as_of=date(2024, 12, 31),
        customer_class=COM,
        bill_year=2024,
    )
    assert (b.days_total, b.days_at_own_year_rate, b.days_at_later_rate) == (366, 366, 0)
    assert b.fee == D("73.20")


# ---------------------------------------------------------------- bad input


def _call(**overrides):
    kwargs = {
        "principal": D("100.00"),
        "due_date": date(2026, 3, 1),
        "as_of": date(2026, 3, 11),
        "customer_class": RES,
        "bill_year": 2026,
    }
    return late_fee(**(kwargs | overrides))


def test_negative_minimum_is_refused():
    with pytest.raises(ValueError, match="minimum must not be negative"):
        _call(minimum=D("-1.00"))


@pytest.mark.parametrize("field", ["due_date", "as_of"])
@pytest.mark.parametrize("value", [datetime(2026, 3, 11, 9, 30), "2026-03-11", None])  # noqa: DTZ001
def test_dates_must_be_plain_dates(field, value):
    with pytest.raises(ValueError, match=f"{field} must be a datetime.date"):
        _call(**{field: value})


def test_money_must_be_decimal_not_float():
    with pytest.raises(ValueError, match="principal must be a Decimal"):
        _call(principal=100.0)
    with pytest.raises(ValueError, match="minimum must be a Decimal"):
        _call(minimum=1.0)
    with pytest.raises(ValueError, match="principal must be a finite Decimal"):
        _call(principal=D("NaN"))


@pytest.mark.parametrize("bill_year", [0, 10000, "2026", True])
def test_bill_year_must_be_a_year(bill_year):
    with pytest.raises(ValueError, match="bill_year"):
        _call(bill_year=bill_year)


@pytest.mark.parametrize("customer_class", ["", None])
def test_customer_class_is_required(customer_class):
    with pytest.raises(ValueError, match="customer_class"):
        _call(customer_class=customer_class)


# ---------------------------------------------------------------- properties

principals = st.decimals(
    min_value=D("-100.00"), max_value=D("1000000.00"), places=2, allow_nan=False, allow_infinity=False
)
due_dates = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))
classes = st.sampled_from([c.value for c in CustomerClass])


@given(
    principal=principals,
    due_date=due_dates,
    customer_class=classes,
    year_offset=st.integers(min_value=-1, max_value=0),
    day1=st.integers(min_value=-30, max_value=1500),
    step=st.integers(min_value=0, max_value=800),
)
def test_fee_never_decreases_as_as_of_increases(principal, due_date, customer_class, year_offset, day1, step):
    # The bill's year is the due date's year or the one before (a December bill due in January).
    bill_year = due_date.year + year_offset
    earlier = due_date + timedelta(days=day1)
    later = earlier + timedelta(days=step)
    args = {
        "principal": principal,
        "due_date": due_date,
        "customer_class": customer_class,
        "bill_year": bill_year,
    }
    assert late_fee(as_of=earlier, **args) <= late_fee(as_of=later, **args)


@given(
    principal=principals,
    due_date=due_dates,
    customer_class=classes,
    year_offset=st.integers(min_value=-1, max_value=0),
    days=st.integers(min_value=-30, max_value=1500),
)
def test_fee_is_zero_or_at_least_the_minimum(principal, due_date, customer_class, year_offset, days):
    as_of = due_date + timedelta(days=days)
    b = late_fee_breakdown(
        principal=principal,
        due_date=due_date,
        as_of=as_of,
        customer_class=customer_class,
        bill_year=due_date.year + year_offset,
    )
    assert b.fee == D("0.00") or b.fee >= D("1.00")
    assert (b.fee > 0) == (days > 0 and principal > 0)
    assert b.fee.as_tuple().exponent == -2  # always whole cents
    assert b.days_at_own_year_rate + b.days_at_later_rate == b.days_total == max(0, days)
