"""Reads of the payments app: the account statement (对账单) with late fees as of a date, balances."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Sum

from gridcare.core.money import fen
from gridcare.payments.models import LedgerEntry, Payment, Receivable

from .latefee import accrued_fee

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class StatementLine:
    receivable_id: int
    bill_id: int
    period: str
    customer_class: str
    due_date: date
    principal: Decimal
    principal_outstanding: Decimal
    late_fee: Decimal  # charged and unpaid, plus what settling on the statement date adds (`accrued_fee`)
    days_overdue: int

    @property
    def total(self) -> Decimal:
        return self.principal_outstanding + self.late_fee


@dataclass(frozen=True)
class Statement:
    account_number: str
    as_of: date
    lines: list[StatementLine] = field(default_factory=list)
    credit: Decimal = ZERO  # unallocated payments (预存余额)

    @property
    def principal_outstanding(self) -> Decimal:
        return sum((ln.principal_outstanding for ln in self.lines), ZERO)

    @property
    def late_fee(self) -> Decimal:
        return sum((ln.late_fee for ln in self.lines), ZERO)

    @property
    def amount_due(self) -> Decimal:
        return self.principal_outstanding + self.late_fee


def _line(r: Receivable, as_of: date) -> StatementLine:
    """A receivable as a statement line: the fee charged and unpaid plus the fee accrued up to `as_of` and,
    for an open overdue bill, the shortfall to the 1.00 minimum — max(fee accrued so far, 1.00) less the fee
    already charged (`latefee.accrued_fee`, i.e. `latefee.fee_due`)."""
    return StatementLine(
        receivable_id=r.pk,
        bill_id=r.bill_id,
        period=r.period,
        customer_class=r.customer_class,
        due_date=r.due_date,
        principal=r.principal,
        principal_outstanding=r.principal - r.principal_paid,
        late_fee=r.fee_charged - r.fee_waived - r.fee_paid + accrued_fee(r, as_of),
        days_overdue=max(0, (as_of - r.due_date).days),
    )


def open_receivables(account_id: int):
    return Receivable.objects.filter(account_id=account_id).open().order_by("due_date", "id")


def amounts_due(account_ids: list[int], as_of: date, *, due_before: date | None = None) -> dict[int, Decimal]:
    """What each account owes as of `as_of` — the statement total: outstanding principal, charged unpaid late
    fee and the fee accrued up to `as_of` with the 1.00 minimum of each overdue bill — in one query; `due_before` keeps only bills due before that day
    (the overdue arrears). Accounts owing nothing are absent."""
    if not account_ids:
        return {}
    rs = Receivable.objects.filter(account_id__any=list(account_ids)).open()
    if due_before is not None:
        rs = rs.filter(due_date__lt=due_before)
    out: dict[int, Decimal] = {}
    for r in rs.iterator(chunk_size=2000):
        out[r.account_id] = out.get(r.account_id, ZERO) + _line(r, as_of).total
    return {a: fen(v) for a, v in out.items() if v > 0}


def statement(account, as_of: date) -> Statement:
    """Each open bill with its outstanding principal and the late fee owed as of `as_of` (two queries)."""
    lines = [_line(r, as_of) for r in open_receivables(account.pk)]
    return Statement(
        account_number=account.account_number, as_of=as_of, lines=lines, credit=credit_of(account.pk)
    )


def credit_of(account_id: int) -> Decimal:
    """Credit balance (预存): the sum of the account's posted payments' unallocated amounts."""
    return fen(
        Payment.objects.filter(account_id=account_id, status="posted").aggregate(s=Sum("unallocated"))["s"]
    )


def ledger_balance(account_id: int) -> Decimal:
    """Sum of the account's ledger (positive: owed, negative: credit), summed in Decimal."""
    return sum(LedgerEntry.objects.filter(account_id=account_id).values_list("amount", flat=True), ZERO)


def statement_of_ids(account_id: int, receivable_ids: list[int], as_of: date) -> list[StatementLine]:
    """Statement lines of the given receivables of one account as of a date (what paying them would take)."""
    return [
        _line(r, as_of)
        for r in Receivable.objects.filter(
            account_id=account_id, pk__in=receivable_ids, cancelled_at__isnull=True
        )
    ]


def statements(accounts, as_of: date) -> dict[int, Statement]:
    """`statement` of several accounts at once, by account id, in two queries whatever their number (the
    portal's home shows every bound account)."""
    accounts = list(accounts)
    ids = [a.pk for a in accounts]
    if not ids:
        return {}
    lines: dict[int, list[StatementLine]] = {i: [] for i in ids}
    for r in Receivable.objects.filter(account_id__any=ids).open().order_by("account_id", "due_date", "id"):
        lines[r.account_id].append(_line(r, as_of))
    credits = dict(
        Payment.objects.filter(account_id__any=ids, status="posted", unallocated__gt=0)
        .order_by()
        .values("account_id")
        .annotate(s=Sum("unallocated"))
        .values_list("account_id", "s")
    )
    return {
        a.pk: Statement(
            account_number=a.account_number, as_of=as_of, lines=lines[a.pk], credit=fen(credits.get(a.pk))
        )
        for a in accounts
    }
