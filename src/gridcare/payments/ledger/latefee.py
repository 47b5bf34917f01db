"""Late-payment charge 电费违约金 (SPEC C3, issue 4 §5, issue 10 §3): pure Decimal arithmetic, no database.

The charge accrues per calendar day after the due date on the outstanding principal. "Days after the due
date" are the dates ``due_date + 1 … as_of`` inclusive, so ``days = (as_of − due_date).days``; each date
counts in the calendar year it falls in.

- Residential (居民生活): 0.1 % per day, whatever the year.
- Every other class: 0.2 % per day for days in the bill's own year (the year of its billing month),
  0.3 % per day for days in later years.

The minimum (供电营业规则 art. 98, "总额不足1元者按1元收取") is on a bill's cumulative fee, not on each
charge. One rule, used by the ledger, the statement and the what-if endpoint alike:

- Each payment that reaches an overdue bill charges the fee accrued since the last charge (or the due date)
  on the principal then outstanding, rounded half-up to the fen once per charge (`fee_accrued`).
- A payment that pays the rest of the principal of an overdue bill whose cumulative fee is still under
  1.00 is charged the shortfall too. The fee is paid before the principal, so a payment that reaches the
  principal and the accrued fee but not the shortfall leaves that much principal open (`payment_apply`).
- A payment smaller than the fee owed pays only fee; the part it does not cover stays owed (charged, not
  paid) and is paid first by the next payment; the principal keeps accruing meanwhile.
- What an open overdue bill shows as due is max(fee accrued so far, 1.00) less the fee already charged
  (`fee_due`): a bill one day late shows 1.00.

`late_fee` / `late_fee_breakdown` compute one accrual over a period (with an optional minimum on it) and
explain it day by day; `late_fee_calculate` replays a bill's payments for the what-if endpoint.

`fee_terms`, `fee_state` and `accrued_fee` read a stored receivable's fields into these plain values (no
query): the ledger's services, its statement and its selectors share them from here.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from gridcare.customers.choices import CustomerClass

if TYPE_CHECKING:
    from .models import Receivable

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
    """The late fee (电费违约金) on ``principal`` accrued as of ``as_of``, in yuan to 0.01, at least
    ``minimum`` when overdue. With the default minimum it is what one payment of the whole bill on ``as_of``
    is charged; the ledger charges each payment's accrual without a minimum (`fee_accrued`) and applies the
    minimum to the bill's total (`payment_apply`)."""
    return late_fee_breakdown(
        principal=principal,
        due_date=due_date,
        as_of=as_of,
        customer_class=customer_class,
        bill_year=bill_year,
        minimum=minimum,
    ).fee


# ---------------------------------------------------------------- a bill's fee, payment by payment


@dataclass(frozen=True, slots=True)
class FeeTerms:
    """What fixes a bill's late fee: its customer class, its year (the billing month's) and its due date."""

    customer_class: str
    bill_year: int
    due_date: date
    minimum: Decimal = DEFAULT_MINIMUM


@dataclass(frozen=True, slots=True)
class FeeState:
    """Where a bill stands, as the ledger keeps it on its receivable.

    ``fee_charged`` is every fee charged so far, waived or not: the minimum is on what was charged, and a
    waiver is a later decision that does not make the minimum due again. ``fee_through`` is the day up to
    which the fee has been charged (None: never).
    """

    principal: Decimal
    principal_paid: Decimal = ZERO
    fee_charged: Decimal = ZERO
    fee_waived: Decimal = ZERO
    fee_paid: Decimal = ZERO
    fee_through: date | None = None

    @property
    def principal_outstanding(self) -> Decimal:
        return self.principal - self.principal_paid

    @property
    def fee_unpaid(self) -> Decimal:
        """Charged, not waived, not paid."""
        return self.fee_charged - self.fee_waived - self.fee_paid


def fee_accrued(terms: FeeTerms, state: FeeState, on: date) -> Decimal:
    """The fee accrued on the outstanding principal after the last charge (or the due date) up to `on`,
    rounded half-up to the fen, without the minimum. 0.00 when nothing is owed or not overdue on `on`."""
    start = max(terms.due_date, state.fee_through) if state.fee_through else terms.due_date
    outstanding = state.principal_outstanding
    if outstanding <= 0 or on <= start:
        return ZERO
    return late_fee(
        principal=outstanding,
        due_date=start,
        as_of=on,
        customer_class=terms.customer_class,
        bill_year=terms.bill_year,
        minimum=ZERO,
    )


def _shortfall(terms: FeeTerms, charged: Decimal, on: date) -> Decimal:
    """What brings a cumulative fee of `charged` up to the minimum, for a bill overdue on `on`."""
    if on <= terms.due_date or charged >= terms.minimum:
        return ZERO
    return (terms.minimum - charged).quantize(CENT, rounding=ROUND_HALF_UP)


def fee_due(terms: FeeTerms, state: FeeState, on: date) -> Decimal:
    """The fee settling the bill on `on` would add to what was charged: the fee accrued since the last
    charge plus, while principal remains and the bill is overdue, the shortfall to the minimum — that is
    max(fee charged + accrued, 1.00) − fee charged. What the statement shows on top of the fee charged and
    unpaid; a bill one day late shows 1.00."""
    accrued = fee_accrued(terms, state, on)
    if state.principal_outstanding <= 0:
        return accrued  # 0.00: nothing accrues on a paid principal, whose payment settled the minimum
    return accrued + _shortfall(terms, state.fee_charged + accrued, on)


@dataclass(frozen=True, slots=True)
class FeeCharge:
    """A fee charged on a day: how much (accrual and shortfall) and the bill's state after it."""

    amount: Decimal  # the accrual and the shortfall
    shortfall: Decimal
    state: FeeState


def fee_charge(terms: FeeTerms, state: FeeState, on: date, *, settle: bool = False) -> FeeCharge:
    """Charge the fee accrued up to `on` and, with `settle`, the shortfall to the minimum while principal
    remains (`fee_due`'s amount); ``fee_through`` moves to `on` while the bill is overdue and principal
    remains."""
    accrued = fee_accrued(terms, state, on)
    shortfall = ZERO
    if settle and state.principal_outstanding > 0:
        shortfall = _shortfall(terms, state.fee_charged + accrued, on)
    amount = accrued + shortfall
    through = state.fee_through
    if state.principal_outstanding > 0 and on > terms.due_date:
        through = max(on, through or on)
    return FeeCharge(
        amount, shortfall, replace(state, fee_charged=state.fee_charged + amount, fee_through=through)
    )


@dataclass(frozen=True, slots=True)
class PaymentStep:
    """What one payment (or what is left of it) did to one bill."""

    on: date
    fee_charged: Decimal  # charged with this payment: the accrual, plus the shortfall on paying off
    shortfall: Decimal  # of `fee_charged`, the part that brought the bill's fee up to the minimum
    late_fee: Decimal  # of the payment, to the late fee
    principal: Decimal  # of the payment, to the principal
    left: Decimal  # of the payment, not needed by this bill
    state: FeeState  # the bill after it


def payment_apply(terms: FeeTerms, state: FeeState, *, amount: Decimal, on: date) -> PaymentStep:
    """Apply `amount` paid on `on` to one bill: charge the fee accrued up to `on`; when the amount reaches
    the fee owed plus the rest of the principal, also the shortfall to the minimum; then pay the fee owed
    before the principal. The ledger calls this for each bill a payment reaches, oldest first."""
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount < 0:
        raise ValueError(f"amount must be a non-negative Decimal: {amount!r}")
    charge = fee_charge(terms, state, on)
    after = charge.state
    owed = after.fee_unpaid
    principal_left = after.principal_outstanding
    shortfall = ZERO
    if principal_left > 0 and amount >= owed + principal_left:
        shortfall = _shortfall(terms, after.fee_charged, on)
    fee_part = min(amount, owed + shortfall)
    principal_part = min(amount - fee_part, principal_left)
    after = replace(
        after,
        fee_charged=after.fee_charged + shortfall,
        fee_paid=after.fee_paid + fee_part,
        principal_paid=after.principal_paid + principal_part,
    )
    return PaymentStep(
        on=on,
        fee_charged=charge.amount + shortfall,
        shortfall=shortfall,
        late_fee=fee_part,
        principal=principal_part,
        left=amount - fee_part - principal_part,
        state=after,
    )


# ---------------------------------------------------------------- the what-if calculation


MAX_PAYMENTS = 366


@dataclass(frozen=True, slots=True)
class Calculation:
    """A bill's payments replayed: each payment's late fee and principal, and where the bill stands on
    `as_of`. ``late_fee_total`` is the fee the payments paid; ``late_fee_due`` what settling on `as_of`
    would add (the fee charged but not covered by a payment, the fee accrued since the last charge and,
    while principal remains, the shortfall to the minimum); ``credit`` what the payments paid beyond the
    bill."""

    charges: tuple[PaymentStep, ...]
    late_fee_total: Decimal
    principal_outstanding: Decimal
    late_fee_due: Decimal
    credit: Decimal


def late_fee_calculate(
    *,
    customer_class: str,
    bill_year: int,
    due_date: date,
    principal: Decimal,
    payments: Sequence[tuple[date, Decimal]],
    as_of: date,
    minimum: Decimal = DEFAULT_MINIMUM,
) -> Calculation:
    """Replay `payments` ((date, amount) pairs, applied in date order, the given order within a day) on a
    bill with `payment_apply`, as the ledger applies them, and state the bill as of `as_of`. Stores nothing.
    Payments dated after `as_of` are refused (ValueError), so is a non-positive principal or amount."""
    if not isinstance(principal, Decimal) or not principal.is_finite() or principal <= 0:
        raise ValueError(f"principal must be a positive Decimal: {principal!r}")
    terms = FeeTerms(customer_class=customer_class, bill_year=bill_year, due_date=due_date, minimum=minimum)
    ordered = sorted(payments, key=lambda p: p[0])
    state = FeeState(principal=principal)
    steps: list[PaymentStep] = []
    credit = ZERO
    for on, amount in ordered:
        if on > as_of:
            raise ValueError(f"payment dated {on} after as_of {as_of}")
        if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
            raise ValueError(f"payment amount must be a positive Decimal: {amount!r}")
        step = payment_apply(terms, state, amount=amount, on=on)
        steps.append(step)
        state = step.state
        credit += step.left
    return Calculation(
        charges=tuple(steps),
        late_fee_total=sum((s.late_fee for s in steps), ZERO),
        principal_outstanding=state.principal_outstanding,
        late_fee_due=state.fee_unpaid + fee_due(terms, state, as_of),
        credit=credit,
    )


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
    "MAX_PAYMENTS",
    "Calculation",
    "FeeCharge",
    "FeeState",
    "FeeTerms",
    "PaymentStep",
    "fee_accrued",
    "fee_charge",
    "fee_due",
    "late_fee_calculate",
    "payment_apply",
    "LATER_YEAR_RATE",
    "OWN_YEAR_RATE",
    "RESIDENTIAL_RATE",
    "LateFeeBreakdown",
    "late_fee",
    "late_fee_breakdown",
]


# ---------------------------------------------------------------- a stored receivable's fee


def fee_terms(r: "Receivable") -> FeeTerms:
    """The plain values that fix a receivable's late fee, for the rules above."""
    return FeeTerms(customer_class=r.customer_class, bill_year=r.bill_year, due_date=r.due_date)


def fee_state(r: "Receivable") -> FeeState:
    """Where a receivable stands, as plain values for the rules above."""
    return FeeState(
        principal=r.principal,
        principal_paid=r.principal_paid,
        fee_charged=r.fee_charged,
        fee_waived=r.fee_waived,
        fee_paid=r.fee_paid,
        fee_through=r.fee_through,
    )


def accrued_fee(r: "Receivable", as_of: date) -> Decimal:
    """Late fee of `r` not charged yet that settling on `as_of` would add: the fee accrued after
    `fee_through` (or the due date) plus, while principal remains, the shortfall to the bill's 1.00 minimum
    (`fee_due`). Every display of a late fee owed adds this to the fee charged and unpaid."""
    return fee_due(fee_terms(r), fee_state(r), as_of)
