"""Late-payment charge 电费违约金 (SPEC C3, issue 4 §5): pure Decimal arithmetic, no database.

The charge accrues per calendar day after the due date on the outstanding principal. "Days after the due
date" are the dates ``due_date + 1 … as_of`` inclusive, so ``days = (as_of − due_date).days``; each date
counts in the calendar year it falls in.

- Residential (居民生活): 0.1 % per day, whatever the year.
- Every other class: 0.2 % per day for days in the bill's own year (the year of its billing month),
  0.3 % per day for days in later years.

fee = principal × Σ(rate × days), rounded half-up to 0.01 yuan, and at least ``minimum`` (1.00 yuan per
overdue bill) whenever something is owed and overdue. Not overdue, or nothing owed: 0.00, no minimum.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from gridcare.customers.choices import CustomerClass

RESIDENTIAL_RATE = Decimal("0.001")
OWN_YEAR_RATE = Decimal("0.002")
LATER_YEAR_RATE = Decimal("0.003")
DEFAULT_MINIMUM = Decimal("1.00")

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class LateFeeBreakdown:
    """How a late fee was reached, for the statement to explain it line by line.

    ``days_at_own_year_rate`` counts the overdue days in the bill's own year (or earlier) and
    ``days_at_later_rate`` those in later years; for a residential bill both rates are 0.1 %.
    """

    days_total: int
    days_at_own_year_rate: int
    days_at_later_rate: int
    own_year_rate: Decimal
    later_year_rate: Decimal
    raw_amount: Decimal  # principal × Σ(rate × days), before rounding and the minimum
    fee: Decimal
    minimum_applied: bool


def late_fee_breakdown(
    *,
    principal: Decimal,
    due_date: date,
    as_of: date,
    customer_class: str,
    bill_year: int,
    minimum: Decimal = DEFAULT_MINIMUM,
) -> LateFeeBreakdown:
    """The late fee on ``principal`` accrued as of ``as_of``, with the days and rates that made it."""
    _check_inputs(
        principal=principal,
        due_date=due_date,
        as_of=as_of,
        customer_class=customer_class,
        bill_year=bill_year,
        minimum=minimum,
    )

    days_total = max(0, (as_of - due_date).days)
    # The last date still in the bill's own year; dates after it are charged at the later-year rate.
    own_year_end = date(bill_year, 12, 31)
    days_own = min(days_total, max(0, (own_year_end - due_date).days))
    days_later = days_total - days_own

    if customer_class == CustomerClass.RESIDENTIAL:
        own_rate = later_rate = RESIDENTIAL_RATE
    else:
        own_rate, later_rate = OWN_YEAR_RATE, LATER_YEAR_RATE

    if days_total == 0 or principal <= 0:
        raw = ZERO
        fee = ZERO
        minimum_applied = False
    else:
        raw = principal * (own_rate * days_own + later_rate * days_later)
        rounded = raw.quantize(CENT, rounding=ROUND_HALF_UP)
        minimum_applied = rounded < minimum
        fee = (minimum if minimum_applied else rounded).quantize(CENT, rounding=ROUND_HALF_UP)

    return LateFeeBreakdown(
        days_total=days_total,
        days_at_own_year_rate=days_own,
        days_at_later_rate=days_later,
        own_year_rate=own_rate,
        later_year_rate=later_rate,
        raw_amount=raw,
        fee=fee,
        minimum_applied=minimum_applied,
    )


def late_fee(
    *,
    principal: Decimal,
    due_date: date,
    as_of: date,
    customer_class: str,
    bill_year: int,
    minimum: Decimal = DEFAULT_MINIMUM,
) -> Decimal:
    """The late fee (电费违约金) on ``principal`` accrued as of ``as_of``, in yuan to 0.01."""
    return late_fee_breakdown(
        principal=principal,
        due_date=due_date,
        as_of=as_of,
        customer_class=customer_class,
        bill_year=bill_year,
        minimum=minimum,
    ).fee


def _check_inputs(*, principal, due_date, as_of, customer_class, bill_year, minimum) -> None:
    # Money must be Decimal: a float has already lost the cents it claims to hold.
    for name, value in (("principal", principal), ("minimum", minimum)):
        if not isinstance(value, Decimal):
            raise ValueError(f"{name} must be a Decimal, not {type(value).__name__}: {value!r}")
        if not value.is_finite():
            raise ValueError(f"{name} must be a finite Decimal: {value!r}")
    if minimum < 0:
        raise ValueError(f"minimum must not be negative: {minimum}")
    # A datetime is a date subclass, but fees accrue per calendar day: make the caller pick the local date.
    for name, value in (("due_date", due_date), ("as_of", as_of)):
        if not isinstance(value, date) or isinstance(value, datetime):
            raise ValueError(f"{name} must be a datetime.date (not a datetime or string): {value!r}")
    if not isinstance(customer_class, str) or not customer_class:
        raise ValueError(f"customer_class must be a non-empty string: {customer_class!r}")
    if isinstance(bill_year, bool) or not isinstance(bill_year, int) or not 1 <= bill_year <= 9999:
        raise ValueError(f"bill_year must be a year between 1 and 9999: {bill_year!r}")


__all__ = [
    "DEFAULT_MINIMUM",
    "LATER_YEAR_RATE",
    "OWN_YEAR_RATE",
    "RESIDENTIAL_RATE",
    "LateFeeBreakdown",
    "late_fee",
    "late_fee_breakdown",
]
