"""Reads for the console's account ledger (电费账), payment reversal and late-fee waiver pages and their API.

Every function takes the user and scopes to the units the user may see under the permission the page needs;
missing and forbidden both end in `Http404` (or an empty queryset), like the rest of the console.

`account_ledger` reads a fixed number of queries whatever the number of rows: the entries, the open
receivables, the payments with their allocations (one prefetch) and the pending waivers.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from gridcare.core.permissions import Perm, Role, has_perm
from gridcare.core.scoping import restrict, visible_unit_ids
from gridcare.customers.models import Account
from gridcare.customers.selectors import account_get, accounts_visible
from gridcare.payments.choices import PaymentStatus
from gridcare.payments.models import Allocation, FeeWaiver, LedgerEntry, Payment, Receivable

from .latefee import accrued_fee
from .statement import open_receivables

ZERO = Decimal("0.00")
WAIVER_PENDING = "pending"


@dataclass(frozen=True)
class EntryRow:
    """A ledger entry with the account balance right after it (positive: owed; negative: credit)."""

    entry: LedgerEntry
    balance: Decimal


@dataclass(frozen=True)
class OpenReceivable:
    """An open bill: outstanding principal, fee charged and unpaid, fee accrued since, as of a date."""

    receivable: Receivable
    principal_outstanding: Decimal
    fee_unpaid: Decimal  # charged, not waived, not paid
    # Not charged yet, what settling on the as-of date adds: accrued after `fee_through`, plus the
    # shortfall to the bill's 1.00 minimum while principal remains (`latefee.accrued_fee`)
    fee_accrued: Decimal
    days_overdue: int

    @property
    def fee_owed(self) -> Decimal:
        return self.fee_unpaid + self.fee_accrued

    @property
    def total(self) -> Decimal:
        return self.principal_outstanding + self.fee_owed


@dataclass(frozen=True)
class Ledger:
    account: Account
    as_of: date
    entries: list[EntryRow] = field(default_factory=list)
    receivables: list[OpenReceivable] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    pending_waivers: list[FeeWaiver] = field(default_factory=list)

    @property
    def balance(self) -> Decimal:
        return self.entries[-1].balance if self.entries else ZERO

    @property
    def amount_due(self) -> Decimal:
        return sum((r.total for r in self.receivables), ZERO)


def running_balance(entries) -> list[EntryRow]:
    """Entries (oldest first) each with the balance after it, summed in Decimal."""
    rows, balance = [], ZERO
    for e in entries:
        balance += e.amount
        rows.append(EntryRow(e, balance))
    return rows


def ledger_entries(account_id: int) -> list[EntryRow]:
    """The account's ledger entries oldest first (date, then insertion) with the running balance."""
    qs = LedgerEntry.objects.filter(account_id=account_id).order_by("occurred_on", "id")
    return running_balance(qs)


def open_items(account_id: int, as_of: date) -> list[OpenReceivable]:
    """Open receivables with the late fee owed as of `as_of` (no query per row)."""
    rows = []
    for r in open_receivables(account_id):
        fee_unpaid = r.fee_charged - r.fee_waived - r.fee_paid
        rows.append(
            OpenReceivable(
                receivable=r,
                principal_outstanding=r.principal - r.principal_paid,
                fee_unpaid=fee_unpaid,
                fee_accrued=accrued_fee(r, as_of),
                days_overdue=max(0, (as_of - r.due_date).days),
            )
        )
    return rows


def account_ledger(*, user, account_number: str, as_of: date) -> Ledger:
    """Everything the ledger page shows for one account (see the module docstring for the query count)."""
    account = account_get(user=user, account_number=account_number)
    payments = list(
        Payment.objects.filter(account_id=account.pk)
        .select_related("received_by")
        .prefetch_related(
            Prefetch("allocations", queryset=Allocation.objects.select_related("receivable").order_by("id"))
        )
        .order_by("-paid_at", "-id")
    )
    waivers = list(
        FeeWaiver.objects.filter(receivable__account_id=account.pk, status=WAIVER_PENDING)
        .select_related("receivable", "requested_by")
        .order_by("requested_at", "id")
    )
    return Ledger(
        account=account,
        as_of=as_of,
        entries=ledger_entries(account.pk),
        receivables=open_items(account.pk, as_of),
        payments=payments,
        pending_waivers=waivers,
    )


def payment_for_reversal(*, user, pk) -> Payment:
    """A payment the user may reverse (payment.reverse on its unit); 404 otherwise."""
    payment = (
        restrict(Payment.objects.select_related("account"), user, Perm.PAYMENT_REVERSE).filter(pk=pk).first()
    )
    if payment is None:
        raise Http404
    return payment


def payment_for_refund(*, user, pk) -> Payment:
    """A payment of the units where the user may ask for refunds (payment.record or payment.reverse); 404
    otherwise."""
    qs = Payment.objects.select_related("account")
    perm = Perm.PAYMENT_RECORD if has_perm(user, Perm.PAYMENT_RECORD) else Perm.PAYMENT_REVERSE
    payment = restrict(qs, user, perm).filter(pk=pk).first()
    if payment is None:
        raise Http404
    return payment


def receivable_for_waiver(*, user, pk) -> Receivable:
    """A live receivable the user may ask a waiver for (payment.reverse on its unit); 404 otherwise."""
    r = (
        restrict(Receivable.objects.select_related("account"), user, Perm.PAYMENT_REVERSE)
        .filter(pk=pk, cancelled_at__isnull=True)
        .first()
    )
    if r is None:
        raise Http404
    return r


def waivers_visible(*, user) -> QuerySet[FeeWaiver]:
    """Waivers of the user's units for approvers (fee.waive_approve) and requesters (payment.reverse)."""
    if not (has_perm(user, Perm.FEE_WAIVE_APPROVE) or has_perm(user, Perm.PAYMENT_REVERSE)):
        return FeeWaiver.objects.none()
    return FeeWaiver.objects.filter(receivable__unit_id__in=visible_unit_ids(user)).select_related(
        "receivable__account", "receivable__unit", "requested_by", "decided_by"
    )


def waiver_queue(*, user) -> QuerySet[FeeWaiver]:
    """Pending waivers an approver (fee.waive_approve) may decide, oldest first."""
    return (
        restrict(
            FeeWaiver.objects.filter(status=WAIVER_PENDING),
            user,
            Perm.FEE_WAIVE_APPROVE,
            "receivable__unit_id",
        )
        .select_related("receivable__account", "receivable__unit", "requested_by")
        .order_by("requested_at", "id")
    )


def waiver_for_decision(*, user, pk) -> FeeWaiver:
    """A waiver of the approver's units (any status: the service says when it is already decided)."""
    w = (
        restrict(FeeWaiver.objects.all(), user, Perm.FEE_WAIVE_APPROVE, "receivable__unit_id")
        .select_related("receivable")
        .filter(pk=pk)
        .first()
    )
    if w is None:
        raise Http404
    return w


def posted(payment: Payment) -> bool:
    return payment.status == PaymentStatus.POSTED


def account_for(user, account_number: str) -> Account:
    """The account by 户号 for staff who may view it or the portal customer it is bound to; else Http404."""
    if getattr(user, "role", None) == Role.CUSTOMER:
        from gridcare.portal.selectors import portal_accounts

        account = portal_accounts(user=user).filter(account_number=account_number).first()
    else:
        account = accounts_visible(user=user).filter(account_number=account_number).first()
    if account is None:
        raise Http404
    return account
