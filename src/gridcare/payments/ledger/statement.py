"""Reads of the payments app: the account statement (对账单) with late fees as of a date, balances."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any
from weakref import WeakKeyDictionary

from django.db import connection
from django.db.models import Field, Sum

from gridcare.core.money import fen
from gridcare.customers.choices import AccountStatus
from gridcare.customers.selectors import PUBLIC_LOOKUP_COLUMNS, public_account_fields, public_lookup_sql
from gridcare.payments.models import LedgerEntry, Payment, PrepaidAccount, Receivable

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


def statement_line(r: Receivable, as_of: date) -> StatementLine:
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


# What `_line` and `accrued_fee` read of a receivable; the rest of the row is left deferred.
_DUES_FIELDS = (
    "id", "bill_id", "account_id", "unit_id", "customer_class", "bill_year", "period", "due_date",
    "principal", "principal_paid", "fee_charged", "fee_paid", "fee_waived", "fee_through",
)  # fmt: skip


def _field(name: str) -> Field:
    """One of Receivable's own fields (a relation's reverse side has no column)."""
    model_field = Receivable._meta.get_field(name)
    if not isinstance(model_field, Field):
        raise TypeError(f"Receivable.{name} is not a concrete field")
    return model_field


def _column(name: str) -> str:
    return _field(name).column


@lru_cache(maxsize=1)
def _dues_parts() -> tuple[str, str, str]:
    """Columns, join and order that add to a statement on the account `a` its open receivables (the `open()`
    rule, oldest due first) and whether it is enrolled in prepaid: a left join, so an account owing nothing
    still answers one row with its flag."""
    r, pa = Receivable._meta.db_table, PrepaidAccount._meta.db_table
    cols = ", ".join(f"r.{_column(f.removesuffix('_id'))}" for f in _DUES_FIELDS)
    columns = (
        f"{cols}, EXISTS (SELECT 1 FROM {pa} pa WHERE pa.account_id = a.id "  # noqa: S608 (model metadata)
        "AND pa.unenrolled_on IS NULL) AS prepaid_enrolled"
    )
    join = (
        f"LEFT JOIN {r} r ON r.account_id = a.id AND r.cancelled_at IS NULL "
        "AND (r.principal_paid < r.principal OR r.fee_paid < r.fee_charged - r.fee_waived)"
    )
    return columns, join, "r.due_date, r.id"


# Per database connection (its operations object): the converters of each _DUES_FIELDS column.
_CONVERTERS: "WeakKeyDictionary[Any, tuple[tuple[Any, tuple[Any, ...]], ...]]" = WeakKeyDictionary()


def _receivable_converters() -> tuple[tuple[Any, tuple[Any, ...]], ...]:
    """Per column of _DUES_FIELDS, the converters a queryset applies to the database value (a Decimal or a date
    on SQLite comes back as a number or a string): Django's own, from the backend and the field, as
    `SQLCompiler.get_converters` finds them; worked out once per connection."""
    found = _CONVERTERS.get(connection.ops)
    if found is None:
        table = Receivable._meta.db_table
        columns = [_field(n.removesuffix("_id")).get_col(table) for n in _DUES_FIELDS]
        found = tuple(
            (col, tuple(connection.ops.get_db_converters(col) + col.get_db_converters(connection)))
            for col in columns
        )
        _CONVERTERS[connection.ops] = found
    return found


def _receivables_and_enrolled(rows: list[tuple], start: int) -> tuple[list[Receivable], bool]:
    """The open receivables (columns `start` … of each row, in _DUES_FIELDS order; a row without one is the left
    join's empty side) and the prepaid flag (the last column) of rows read with `_dues_parts`. The receivables are
    built as a raw queryset would build them (the other fields deferred), without its per-call set-up."""
    end = start + len(_DUES_FIELDS)
    receivables = []
    for row in rows:
        if row[start] is None:
            continue
        converters = _receivable_converters()
        values = []
        for value, (col, funcs) in zip(row[start:end], converters, strict=True):
            for func in funcs:
                value = func(value, col, connection)
            values.append(value)
        receivables.append(Receivable.from_db(connection.alias, _DUES_FIELDS, values))
    return receivables, bool(rows[0][-1])


def open_receivables_and_prepaid(account_id: int) -> tuple[list[Receivable], bool]:
    """The open receivables of one account (oldest due first) and whether it is enrolled in prepaid, in one
    statement (the statement's credit is not part of what the public query shows)."""
    columns, join, order = _dues_parts()
    sql = f"SELECT {columns} FROM (SELECT %s AS id) a {join} ORDER BY {order}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [account_id])
        return _receivables_and_enrolled(cursor.fetchall(), 0)


@lru_cache(maxsize=1)
def _public_dues_sql() -> str:
    return public_lookup_sql(*_dues_parts())


def public_account_with_dues(account_number: str) -> dict[str, Any] | None:
    """The public 户号 lookup (`customers.selectors.public_lookup_sql`, masked by `public_account_fields`) with
    the account's open receivables and prepaid flag under `_extra`, all in one round trip: the lookup that
    `customers.public.public_query` takes for the query with the money fields. A plain cursor, not a raw
    queryset: the query's own Python cost is most of what it costs (bench/lookup.py)."""
    with connection.cursor() as cursor:
        cursor.execute(_public_dues_sql(), [account_number, AccountStatus.ACTIVE.value])
        rows = cursor.fetchall()
    if not rows:
        return None
    n = len(PUBLIC_LOOKUP_COLUMNS)
    out = public_account_fields(account_number, *rows[0][:n], with_name=True)
    out["_extra"] = _receivables_and_enrolled(rows, n)
    return out


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
        out[r.account_id] = out.get(r.account_id, ZERO) + statement_line(r, as_of).total
    return {a: fen(v) for a, v in out.items() if v > 0}


def statement(account, as_of: date) -> Statement:
    """Each open bill with its outstanding principal and the late fee owed as of `as_of` (two queries)."""
    lines = [statement_line(r, as_of) for r in open_receivables(account.pk)]
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
        statement_line(r, as_of)
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
        lines[r.account_id].append(statement_line(r, as_of))
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
