"""Writes of the payments app: receivables from issued bills, payments with allocation, reversals, waivers.

Every write runs in one transaction and locks the account row first (`SELECT … FOR UPDATE`), so two
payments of the same account — from two channels at the same moment — are applied one after the other and
the balance stays right. A payment is unique per (channel, channel transaction id): recording it again
returns the payment already made (same answer), whether the duplicate arrives later or at the same time.

Allocation (SPEC C3, issue 4 §4): the oldest debt first (by due date, then bill); within a bill, its late
fee before its principal. Before a receivable is paid, the late fee accrued up to the payment date is
charged (`Receivable.fee_through` moves to that date). What is left of a payment stays as credit
(`Payment.unallocated`) and pays the next bills when they are issued.

Late fee in segments (the rule itself: `latefee.payment_apply`, the same function the what-if endpoint
uses): the fee is charged each time a payment reaches a bill, for the days since the last charge
(`fee_through`) on the principal then outstanding, rounded half-up to the fen. The 1.00 minimum is on the
bill's cumulative fee: the payment that pays off the principal of an overdue bill is charged the shortfall
to 1.00, fee before principal. A bill paid in parts can therefore differ by a fen from one computation
over the whole period — the counter settles the fee at each payment, as a receipt shows it.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F, Sum
from django.db.models.sql import InsertQuery
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.locks import Conflict, person, when
from gridcare.core.money import fen
from gridcare.core.permissions import Perm
from gridcare.core.scoping import PermissionDenied, require_object
from gridcare.customers.models import Account
from gridcare.payments.choices import EntryKind, OrderStatus, PaymentChannel, PaymentStatus, WaiverStatus
from gridcare.payments.collections.services import collections_on_payment, collections_on_reversal
from gridcare.payments.models import (
    Allocation,
    FeeWaiver,
    LedgerEntry,
    Payment,
    PaymentOrder,
    Receivable,
    RefundPart,
)
from gridcare.payments.notices import payment_receipt_row
from gridcare.payments.states import check_transition

from .latefee import FeeState, accrued_fee, fee_charge, fee_state, fee_terms, payment_apply

__all__ = ["PermissionDenied"]

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_AMOUNT = Decimal("999999999.99")


def clean_amount(raw: Any, field: str = "amount", *, allow_zero: bool = False) -> Decimal:
    """A positive amount in yuan with at most two decimals (ValidationError otherwise); `allow_zero` also
    takes 0 (a declared till total, an opening float, a threshold)."""
    try:
        if isinstance(raw, bool | float):
            raise InvalidOperation
        text = str(raw).strip()
        if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):  # plain decimals only: no "1E+2"
            raise InvalidOperation
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        raise ValidationError({field: [_("金额必须是数字：%(v)s") % {"v": str(raw)[:20]}]}) from None
    if value < 0 or (value == 0 and not allow_zero):
        raise ValidationError({field: [_("金额不能为负数") if allow_zero else _("金额必须大于 0")]})
    if value != value.quantize(CENT):
        raise ValidationError({field: [_("金额最多两位小数（分）")]})
    if value > MAX_AMOUNT:
        raise ValidationError({field: [_("金额过大")]})
    return value.quantize(CENT)


def _lock_account(account_id: int) -> Account:
    return Account.objects.select_for_update().select_related("customer").get(pk=account_id)


# ---------------------------------------------------------------- receivables


def receivables_open(bill_ids: list[int], *, on: date | None = None) -> int:
    """Receivables and ledger entries for newly issued bills (called inside the issuing transaction), then
    any credit of those accounts pays them. Bills that already have a receivable are skipped."""
    from gridcare.billing.models import Bill

    if not bill_ids:
        return 0
    now = timezone.now()
    rows = list(
        Bill.objects.filter(pk__any=bill_ids, receivable__isnull=True).values_list(
            "pk",
            "account_id",
            "unit_id",
            "account__customer__customer_class",
            "period_start",
            "due_date",
            "amount",
            "issued_at",
        )
    )
    receivables, entries = [], []
    for pk, account_id, unit_id, klass, period_start, due, amount, issued_at in rows:
        if due is None:  # issuing sets the due date in the same statement that marks the bill issued
            raise ValueError(f"bill {pk} has no due date: it cannot be opened as a receivable")
        receivables.append(
            Receivable(
                bill_id=pk,
                account_id=account_id,
                unit_id=unit_id,
                customer_class=klass,
                bill_year=period_start.year,
                period=f"{period_start:%Y-%m}",
                due_date=due,
                principal=amount,
                created_at=now,
            )
        )
        entries.append(
            LedgerEntry(
                account_id=account_id,
                unit_id=unit_id,
                kind=EntryKind.BILL,
                amount=amount,
                bill_id=pk,
                occurred_on=timezone.localdate(issued_at) if issued_at else (on or timezone.localdate()),
                note=f"{period_start:%Y-%m}",
                created_at=now,
            )
        )
    Receivable.objects.bulk_create(receivables, batch_size=5000)
    LedgerEntry.objects.bulk_create(entries, batch_size=5000)
    accounts = {r.account_id for r in receivables}
    with_credit = (
        set(
            Payment.objects.filter(
                account_id__any=list(accounts), unallocated__gt=0, status=PaymentStatus.POSTED
            ).values_list("account_id", flat=True)
        )
        if accounts
        else set()
    )
    for account_id in sorted(with_credit):
        _apply_credit(_lock_account(account_id), on=on or timezone.localdate())
    return len(receivables)


def receivable_cancel(*, bill_id: int, reason: str = "", cancelled_at: datetime | None = None) -> None:
    """The bill was cancelled (作废): close its receivable. What payments paid on it goes back to them as
    credit (and pays the account's other open bills at once, the correcting bill included once issued);
    the bill and its late fee leave the balance through adjustment entries. Called inside the cancelling
    transaction; a bill that was never issued has no receivable and nothing happens."""
    r = Receivable.objects.filter(bill_id=bill_id, cancelled_at__isnull=True).first()
    if r is None:
        return
    account = _lock_account(r.account_id)
    r = Receivable.objects.select_for_update().get(pk=r.pk)
    now = cancelled_at or timezone.now()
    on = timezone.localdate(now)
    for alloc in r.allocations.filter(reversed=False):
        Payment.objects.filter(pk=alloc.payment_id).update(
            unallocated=F("unallocated") + alloc.principal + alloc.late_fee
        )
        alloc.reversed = True
        alloc.save(update_fields=["reversed"])
    fee = r.fee_charged - r.fee_waived
    entries = [
        LedgerEntry(
            account=account,
            unit_id=r.unit_id,
            kind=EntryKind.ADJUSTMENT,
            amount=-r.principal,
            bill_id=r.bill_id,
            occurred_on=on,
            note=(_("账单作废：%(r)s") % {"r": reason})[:200],
            created_at=now,
        )
    ]
    if fee:
        entries.append(
            LedgerEntry(
                account=account,
                unit_id=r.unit_id,
                kind=EntryKind.ADJUSTMENT,
                amount=-fee,
                bill_id=r.bill_id,
                occurred_on=on,
                note=_("作废账单的违约金"),
                created_at=now,
            )
        )
    LedgerEntry.objects.bulk_create(entries)
    r.principal_paid = r.fee_paid = ZERO
    r.cancelled_at = now
    r.save(update_fields=["principal_paid", "fee_paid", "cancelled_at"])
    # Pending late-fee waivers of a cancelled bill have nothing left to waive.
    check_transition(FeeWaiver, WaiverStatus.PENDING, WaiverStatus.REJECTED)
    r.waivers.filter(status=WaiverStatus.PENDING).update(status=WaiverStatus.REJECTED, decided_at=now)
    _apply_credit(account, on=on)


# ---------------------------------------------------------------- late fee


def _set_state(r: Receivable, state: FeeState) -> None:
    r.principal_paid, r.fee_charged, r.fee_paid, r.fee_through = (
        state.principal_paid,
        state.fee_charged,
        state.fee_paid,
        state.fee_through,
    )


def _fee_entries(
    r: Receivable, amount: Decimal, on: date, now: datetime, *, shortfall: Decimal = ZERO
) -> list[LedgerEntry]:
    """Late-fee ledger entries (unsaved): the accrual up to `on`, and apart from it the shortfall to the
    minimum."""
    entries = []
    if amount - shortfall > 0:
        note = _("%(p)s 违约金计至 %(d)s") % {"p": r.period, "d": on.isoformat()}
        entries.append((amount - shortfall, note))
    if shortfall > 0:
        entries.append((shortfall, _("%(p)s 违约金不足1元，按1元收取") % {"p": r.period}))
    return [
        LedgerEntry(
            account_id=r.account_id,
            unit_id=r.unit_id,
            kind=EntryKind.LATE_FEE,
            amount=value,
            bill_id=r.bill_id,
            occurred_on=on,
            note=note,
            created_at=now,
        )
        for value, note in entries
    ]


def _charge_fee(r: Receivable, as_of: date, now: datetime) -> None:
    """Charge what settling on `as_of` would (the accrued fee and any shortfall to the minimum): a waiver
    is decided on the fee as the statement shows it."""
    charge = fee_charge(fee_terms(r), fee_state(r), as_of, settle=True)
    LedgerEntry.objects.bulk_create(_fee_entries(r, charge.amount, as_of, now, shortfall=charge.shortfall))
    _set_state(r, charge.state)


# ---------------------------------------------------------------- payments


@dataclass(frozen=True)
class Recorded:
    payment: Payment
    created: bool  # False: the same (channel, transaction id) was recorded before; nothing new written


def payment_record(
    *,
    actor: Actor,
    channel: str,
    channel_txn_id: str,
    account_number: str,
    amount: Any,
    paid_at: datetime | None = None,
) -> Recorded:
    """Record a payment exactly once and allocate it (see the module docstring).

    Refused (ValidationError, nothing written): unknown channel, empty or over-long transaction id, unknown
    户号, a non-positive or non-numeric amount, or a transaction id already used for a different account or
    amount. A repeat of the same payment returns it with created=False."""
    errs: dict[str, list[str]] = {}
    if channel not in PaymentChannel.values:
        errs["channel"] = [_("未知的缴费渠道：%(c)s") % {"c": str(channel)[:20]}]
    txn = clean_txn_id(channel_txn_id, errs)
    try:
        value = clean_amount(amount)
    except ValidationError as exc:
        errs.update(exc.message_dict)
        value = None
    account = Account.objects.filter(account_number=str(account_number or "").strip()).first()
    if account is None:
        errs["account_number"] = [_("户号不存在：%(n)s") % {"n": str(account_number or "")[:20]}]
    if errs or account is None or value is None:  # no account or no amount: their error is in errs
        raise ValidationError(errs)
    paid_at = paid_at or timezone.now()
    existing = _same_payment(channel, txn, account, value)
    if existing is not None:
        return Recorded(existing, False)
    with transaction.atomic():
        payment = payment_write(
            actor=actor,
            account=_lock_account(account.pk),
            channel=channel,
            txn=txn,
            amount=value,
            paid_at=paid_at,
        )
        if payment is None:
            # The same payment arrived at the same moment and the other one won (its INSERT claimed the
            # transaction id first; ours wrote nothing): answer with its payment.
            existing = _same_payment(channel, txn, account, value)
            if existing is None:  # pragma: no cover — the conflict row is committed before ours returns
                raise IntegrityError("payment claimed by another transaction and not found")
            return Recorded(existing, False)
    return Recorded(payment, True)


def clean_txn_id(channel_txn_id: Any, errs: dict[str, list[str]]) -> str:
    """The channel's transaction id, stripped; an error in `errs` when empty, over 64 characters or NUL."""
    txn = str(channel_txn_id or "").strip()
    if not txn or len(txn) > 64 or "\x00" in txn:
        errs["channel_txn_id"] = [_("渠道流水号必填，最多64个字符")]
    return txn


def _same_payment(channel: str, txn: str, account: Account, amount: Decimal) -> Payment | None:
    existing = Payment.objects.filter(channel=channel, channel_txn_id=txn).first()
    if existing is None:
        return None
    if existing.account_id != account.pk or existing.amount != amount:
        raise ValidationError(
            {"channel_txn_id": [_("渠道流水号 %(t)s 已用于另一笔缴费（户号或金额不同）") % {"t": txn}]}
        )
    return existing


def payment_write(
    *,
    actor: Actor,
    account: Account,
    channel: str,
    txn: str,
    amount: Decimal,
    paid_at: datetime,
    order_id: int | None = None,
    more_rows: Callable[[Payment], list[models.Model]] | None = None,
) -> Payment | None:
    """Write a payment of a LOCKED account, allocated, with its ledger entry, its audit row, its receipt's
    outbox row and the collections hook; `order_id` also marks that online order paid by it, and
    `more_rows(payment)` gives further rows to insert with it (the order's audit row). Returns the payment, or
    None with nothing written when (channel, txn) is already taken.

    A fixed number of statements whatever the number of bills (PostgreSQL: 4 — open receivables; the claim;
    the allocation with every row written beside it; the collections hook): the allocation is planned in
    Python by the pure late-fee rule, written set-based. A channel's notification on PostgreSQL takes
    `channels.notify_pg` instead (the same plan, `_plan`, written in one statement of constant text)."""
    on, now = timezone.localdate(paid_at), timezone.now()
    open_rs = list(Receivable.objects.filter(account=account).open().order_by("due_date", "pk"))
    payment = Payment(
        account=account,
        unit_id=account.unit_id,
        channel=channel,
        channel_txn_id=txn,
        amount=amount,
        unallocated=amount,
        paid_at=paid_at,
        created_at=now,
        received_by=actor.user if actor.user is not None and actor.user.is_authenticated else None,
    )
    plan = _plan([payment], open_rs, on=on, now=now)  # sets payment.unallocated to what is left
    if not _claim(payment, order_id=order_id):
        return None
    entry = LedgerEntry(
        account_id=account.pk,
        unit_id=account.unit_id,
        kind=EntryKind.PAYMENT,
        amount=-amount,
        payment_id=payment.pk,
        occurred_on=on,
        note=f"{channel}:{txn}",
        created_at=now,
    )
    audit = audit_record(
        actor=actor,
        action="payment.record",
        obj=payment,
        customer_id=account.customer_id,
        unit_id=account.unit_id,
        changes={
            "channel": channel,
            "channel_txn_id": txn,
            "amount": str(amount),
            "account_number": account.account_number,
            "unallocated": str(payment.unallocated),
        },
        save=False,
    )
    # 缴费成功: a row rendered off the request (`notices.render_pending_receipts`), committed with the payment
    receipt = payment_receipt_row(payment=payment, customer_id=account.customer_id, account=account)
    beside = [r for r in (receipt, audit, *(more_rows(payment) if more_rows else ())) if r is not None]
    _write_plan(plan, extra_entries=[entry], beside=beside)
    collections_on_payment(account_id=account.pk, now=paid_at)  # arrears paid off → reconnection order
    return payment


def _concrete(model: type[models.Model], name: str) -> models.Field:
    """One of the model's own fields (`_meta.get_field` also answers reverse relations, which have no column)."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"{model.__name__}.{name} is not a concrete field")
    return field


def _claim(payment: Payment, *, order_id: int | None) -> bool:
    """INSERT the payment unless its (channel, transaction id) is taken — ON CONFLICT DO NOTHING, so a
    duplicate arriving at the same moment costs no error and no savepoint — and, with `order_id`, mark the
    order paid by it. One statement on PostgreSQL (the order's UPDATE rides in a CTE). False: taken,
    nothing written."""
    cols = [
        "account_id",
        "unit_id",
        "channel",
        "channel_txn_id",
        "amount",
        "unallocated",
        "paid_at",
        "status",
        "received_by_id",
        "reversal_reason",
        "created_at",
    ]
    # Each value as the ORM would send it (SQLite stores aware datetimes as naive UTC text, for one).
    values = [_concrete(Payment, c).get_db_prep_save(getattr(payment, c), connection) for c in cols]
    table, orders = Payment._meta.db_table, PaymentOrder._meta.db_table
    insert = (
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "  # noqa: S608
        "ON CONFLICT (channel, channel_txn_id) DO NOTHING RETURNING id"
    )
    pg = connection.vendor == "postgresql"
    with connection.cursor() as cur:
        if order_id is not None and pg:
            cur.execute(
                f"WITH p AS ({insert}), o AS (UPDATE {orders} SET status = %s, payment_id = p.id, "  # noqa: S608
                f"paid_at = %s FROM p WHERE {orders}.id = %s) SELECT id FROM p",
                [*values, OrderStatus.PAID.value, payment.paid_at, order_id],
            )
        else:
            cur.execute(insert, values)
        row = cur.fetchone()
    if row is None:
        return False
    payment.pk = row[0]
    payment._state.adding = False
    if order_id is not None and not pg:
        PaymentOrder.objects.filter(pk=order_id).update(
            status=OrderStatus.PAID, payment=payment, paid_at=payment.paid_at
        )
    return True


@dataclass
class _Plan:
    """What allocating payments to receivables writes: late-fee entries, allocations, the receivables'
    new figures and the payments whose unallocated amount changed (those already in the database)."""

    entries: list[LedgerEntry]
    allocations: list[Allocation]
    receivables: list[Receivable]
    payments: list[Payment]


def _plan(payments: list[Payment], open_rs: list[Receivable], *, on: date, now: datetime) -> _Plan:
    """Allocate `payments` (in order) to `open_rs` (oldest debt first) with the pure rule
    `latefee.payment_apply` (late fee before principal); what is left stays on each payment's
    `unallocated`. Nothing is written here."""
    plan = _Plan([], [], [], [])
    touched: dict[int, Receivable] = {}
    for payment in payments:
        left = payment.unallocated
        for r in open_rs:
            if left <= 0:
                break
            step = payment_apply(fee_terms(r), fee_state(r), amount=left, on=on)
            plan.entries.extend(_fee_entries(r, step.fee_charged, on, now, shortfall=step.shortfall))
            _set_state(r, step.state)
            left = step.left
            if step.late_fee or step.principal:
                plan.allocations.append(
                    Allocation(
                        payment=payment,
                        receivable=r,
                        principal=step.principal,
                        late_fee=step.late_fee,
                        created_at=now,
                    )
                )
            touched[r.pk] = r
        if left != payment.unallocated:
            payment.unallocated = left
            if payment.pk is not None:
                plan.payments.append(payment)
    plan.receivables = list(touched.values())
    return plan


def _write_plan(
    plan: _Plan, *, extra_entries: Sequence[LedgerEntry] = (), beside: Sequence[models.Model] = ()
) -> None:
    """Write a plan set-based, with `beside` (new rows of other tables: an audit row, an outbox row). One
    statement on PostgreSQL (each INSERT and the receivables' UPDATE a CTE of it), one per table elsewhere."""
    entries = [*extra_entries, *plan.entries]
    for a in plan.allocations:
        a.payment_id = a.payment.pk  # the payment may have been inserted after the plan was made
    groups: dict[type[models.Model], list[models.Model]] = {}
    for row in [*entries, *plan.allocations, *beside]:
        groups.setdefault(type(row), []).append(row)
    if connection.vendor == "postgresql":
        parts = [_insert_sql(rows) for rows in groups.values()]
        if plan.receivables:
            parts.insert(0, _receivables_update_pg(plan.receivables))
        if parts:
            *ctes, (last, last_params) = parts
            head = (
                ("WITH " + ", ".join(f"w{i} AS ({sql})" for i, (sql, _p) in enumerate(ctes)) + " ")
                if ctes
                else ""
            )
            with connection.cursor() as cur:
                cur.execute(head + last, [v for _sql, params in ctes for v in params] + list(last_params))
    else:
        for model, rows in groups.items():
            model._default_manager.bulk_create(rows)  # `objects` on every model written here
        Receivable.objects.bulk_update(
            plan.receivables, ["fee_charged", "fee_paid", "principal_paid", "fee_through"]
        )
    for p in plan.payments:
        Payment.objects.filter(pk=p.pk).update(unallocated=p.unallocated)


def _insert_sql(rows: list[models.Model]) -> tuple[str, list]:
    """The INSERT of `rows` (one model) exactly as bulk_create would send it, without executing it."""
    model = type(rows[0])
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    query = InsertQuery(model)
    query.insert_values(fields, rows)
    [(sql, params)] = query.get_compiler(connection=connection).as_sql()
    return sql, list(params)


def _receivables_update_pg(receivables: list[Receivable]) -> tuple[str, list]:
    sql, vals = _values(
        [(r.pk, r.principal_paid, r.fee_charged, r.fee_paid, r.fee_through) for r in receivables],
        ("bigint", "numeric", "numeric", "numeric", "date"),
    )
    return (
        f"UPDATE {Receivable._meta.db_table} r SET principal_paid = v.pp, fee_charged = v.fc, "  # noqa: S608
        f"fee_paid = v.fp, fee_through = v.ft FROM (VALUES {sql}) v(id, pp, fc, fp, ft) WHERE r.id = v.id",
        vals,
    )


def _values(rows: list[tuple], types: tuple[str, ...]) -> tuple[str, list]:
    """A VALUES list with each column cast (the first row's casts type the whole list)."""
    one = "(" + ", ".join(f"%s::{t}" for t in types) + ")"
    return ", ".join([one] * len(rows)), [v for row in rows for v in row]


def _apply_credit(account: Account, *, on: date) -> None:
    """Pay the account's open receivables from its payments' unallocated amounts (oldest debt first, late
    fee before principal). The caller holds the account lock."""
    payments = list(
        Payment.objects.filter(account=account, status=PaymentStatus.POSTED, unallocated__gt=0).order_by(
            "paid_at", "id"
        )
    )
    if not payments:
        return
    open_rs = list(Receivable.objects.filter(account=account).open().order_by("due_date", "pk"))
    _write_plan(_plan(payments, open_rs, on=on, now=timezone.now()))


def refunded_of(payment_id: int) -> Decimal:
    """What approved refunds took from a payment's credit (a reversal must not charge it again)."""
    return fen(
        RefundPart.objects.filter(payment_id=payment_id, refund__status="approved").aggregate(
            s=Sum("amount")
        )["s"]
    )


@transaction.atomic
def payment_reverse(*, actor: Actor, payment: Payment, reason: str) -> Payment:
    """Reverse a bounced or cancelled payment: its allocations are undone (the debts re-open, late fee
    accruing again from where it was charged) and a reversal entry restores the balance."""
    require_object(actor, payment, Perm.PAYMENT_REVERSE)
    reason = (reason or "").strip()
    if not reason or len(reason) > 500 or "\x00" in reason:
        raise ValidationError({"reason": [_("请填写冲正原因（最多500字）")]})
    account = _lock_account(payment.account_id)
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status == PaymentStatus.REVERSED:
        raise ValidationError({"__all__": [_("该笔缴费已冲正")]})
    # A refund to the original channel asked for, in flight or made (issue 13 §3) returns this payment's money
    # through the channel: a reversal would take it back a second time.
    if (
        payment.refunds.filter(method="original")
        .exclude(status="rejected")
        .exclude(channel_status="failed")
        .exists()
    ):
        raise ValidationError({"__all__": [_("该笔缴费有原路退款（待审批、处理中或已退款），不能冲正")]})
    # Credit of this payment already paid back to the customer cannot be charged to them again by a
    # reversal: refuse rather than count the refunded amount twice.
    refunded = refunded_of(payment.pk)
    if refunded:
        raise ValidationError(
            {"__all__": [_("该笔缴费已有 %(a)s 元预存退还客户，不能冲正") % {"a": refunded}]}
        )
    now = timezone.now()
    for alloc in payment.allocations.filter(reversed=False).select_related("receivable"):
        r = alloc.receivable
        Receivable.objects.filter(pk=r.pk).update(
            principal_paid=F("principal_paid") - alloc.principal, fee_paid=F("fee_paid") - alloc.late_fee
        )
        alloc.reversed = True
        alloc.save(update_fields=["reversed"])
    check_transition(Payment, payment.status, PaymentStatus.REVERSED)
    payment.status, payment.reversed_at, payment.reversal_reason, payment.unallocated = (
        PaymentStatus.REVERSED,
        now,
        reason,
        ZERO,
    )
    payment.save(update_fields=["status", "reversed_at", "reversal_reason", "unallocated"])
    LedgerEntry.objects.create(
        account_id=payment.account_id,
        unit_id=payment.unit_id,
        kind=EntryKind.REVERSAL,
        amount=payment.amount,
        payment=payment,
        occurred_on=timezone.localdate(now),
        note=reason[:200],
        created_at=now,
    )
    # The account's other credit (later payments kept as 预存) pays the re-opened debts at once, so the
    # account never shows arrears and credit side by side.
    _apply_credit(account, on=timezone.localdate(now))
    collections_on_reversal(account_id=account.pk, now=now, reason=reason)  # bounced: no reconnection on it
    audit_record(
        actor=actor,
        action="payment.reverse",
        obj=payment,
        unit_id=payment.unit_id,
        customer_id=payment.account.customer_id,
        changes={"amount": str(payment.amount), "reason": reason, "status": ["posted", "reversed"]},
    )
    return payment


# ---------------------------------------------------------------- late-fee waivers (违约金减免)


def decided_message(what: str, obj) -> str:
    """该退费申请已被钱经理审批（批准，2026-11-23 10:05）: said to the second of two approvers."""
    decision = _("批准") if obj.status == "approved" else _("驳回")
    return _("%(what)s已被%(who)s审批（%(d)s，%(t)s），不能再次审批") % {
        "what": what,
        "who": person(obj.decided_by),
        "d": decision,
        "t": when(obj.decided_at),
    }


@transaction.atomic
def waiver_request(*, actor: Actor, receivable: Receivable, amount: Any, reason: str, on: date | None = None):
    """Ask for a late-fee waiver on a bill; it takes effect only when a manager approves it."""
    require_object(actor, receivable, Perm.PAYMENT_REVERSE)
    value = clean_amount(amount)
    reason = (reason or "").strip()
    if not reason or len(reason) > 500 or "\x00" in reason:
        raise ValidationError({"reason": [_("请填写减免原因（最多500字）")]})
    r = Receivable.objects.get(pk=receivable.pk)
    owed = r.fee_charged - r.fee_waived - r.fee_paid + accrued_fee(r, on or timezone.localdate())
    if value > owed:
        raise ValidationError(
            {"amount": [_("减免金额 %(a)s 超过该账单应收违约金 %(o)s") % {"a": value, "o": owed}]}
        )
    waiver = FeeWaiver.objects.create(
        receivable=r,
        amount=value,
        reason=reason,
        requested_at=timezone.now(),
        requested_by=actor.user if getattr(actor.user, "is_authenticated", False) else None,
    )
    audit_record(
        actor=actor,
        action="fee_waiver.request",
        obj=waiver,
        unit_id=r.unit_id,
        changes={"receivable": r.pk, "period": r.period, "amount": str(value), "reason": reason},
    )
    return waiver


@transaction.atomic
def waiver_decide(*, actor: Actor, waiver, approve: bool, on: date | None = None):
    """A manager approves or rejects a waiver. Approval charges the fee accrued so far, then waives the
    amount (a waiver entry lowers the balance). The requester cannot approve their own request. A waiver
    already decided (a second approver at the same moment waits on the row lock) is a Conflict (409) naming
    who decided it."""
    waiver = FeeWaiver.objects.select_for_update(of=("self",)).select_related("receivable").get(pk=waiver.pk)
    require_object(actor, waiver.receivable, Perm.FEE_WAIVE_APPROVE)
    if actor.user is None:
        raise PermissionDenied
    if waiver.requested_by_id == actor.user.pk:  # four eyes: a clear refusal, not a "not found"
        raise ValidationError({"__all__": [_("不能审批本人提交的减免申请，请由其他管理人员审批")]})
    if (
        waiver.status != WaiverStatus.PENDING and waiver.decided_by_id is None
    ):  # closed with its cancelled bill
        raise ValidationError({"__all__": [_("该减免申请已处理")]})
    if (
        waiver.status != WaiverStatus.PENDING
    ):  # another approver was first (the row lock made us wait for them)
        raise Conflict(decided_message(_("该减免申请"), waiver), holder=waiver)
    now = timezone.now()
    on = on or timezone.localdate()
    decided = WaiverStatus.APPROVED if approve else WaiverStatus.REJECTED
    check_transition(FeeWaiver, waiver.status, decided)
    waiver.status, waiver.decided_by, waiver.decided_at = (
        decided,
        actor.user,
        now,
    )
    if approve:
        _lock_account(waiver.receivable.account_id)
        r = Receivable.objects.select_for_update().get(pk=waiver.receivable_id)
        if r.cancelled_at is not None:
            raise ValidationError({"__all__": [_("该账单已作废，其违约金已一并冲销，无需减免")]})
        _charge_fee(r, on, now)
        if waiver.amount > r.fee_charged - r.fee_waived - r.fee_paid:
            raise ValidationError({"amount": [_("减免金额超过该账单尚未缴纳的违约金")]})
        r.fee_waived += waiver.amount
        r.save(update_fields=["fee_charged", "fee_waived", "fee_through"])
        LedgerEntry.objects.create(
            account_id=r.account_id,
            unit_id=r.unit_id,
            kind=EntryKind.WAIVER,
            amount=-waiver.amount,
            bill_id=r.bill_id,
            occurred_on=on,
            note=waiver.reason[:200],
            created_at=now,
        )
    waiver.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(
        actor=actor,
        action="fee_waiver.approve" if approve else "fee_waiver.reject",
        obj=waiver,
        unit_id=waiver.receivable.unit_id,
        changes={
            "amount": str(waiver.amount),
            "requested_by": waiver.requested_by_id,
            "status": waiver.status,
        },
    )
    return waiver
