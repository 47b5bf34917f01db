"""Reads of the customer portal: a customer sees only the accounts bound to them, nobody else sees any.

Money comes from the payments app, never computed here: what is due and the late fee from its statement
(`payments.ledger.statement.statements`: outstanding principal, late fee charged and accrued up to today, credit),
the disconnection state from the open collections case (`collections_selectors.account_states`), and for a
prepaid (智能交费) account the estimated balance the public query and the account page show
(`payments.prepaid.services.prepaid_estimate_live`). The portal only puts them side by side and names the state
(`money_state`).
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from gridcare.billing.choices import BillStatus
from gridcare.billing.models import Bill
from gridcare.core.masking import mask_phone
from gridcare.core.money import CENT
from gridcare.core.permissions import is_customer
from gridcare.core.scoping import get_or_404
from gridcare.customers.choices import AccountStatus
from gridcare.customers.models import Account, Meter, ServicePoint
from gridcare.payments.choices import DisconnectCaseStatus
from gridcare.payments.collections import selectors as collections_selectors
from gridcare.payments.ledger import statement as payment_selectors
from gridcare.payments.models import Allocation, Payment, Receivable
from gridcare.payments.prepaid import services as prepaid

from .choices import AccountMoneyState, BillPaymentStatus

ZERO = Decimal("0.00")
PAYMENTS_PER_PAGE = 20


def today() -> date:
    """The portal's as-of date (Asia/Shanghai) for every amount it shows; tests replace it to fix the day."""
    return timezone.localdate()


is_portal_user = is_customer  # the rule lives in core.permissions; portal code calls it from here


def portal_accounts(*, user) -> QuerySet[Account]:
    """The user's bound accounts with premise, unit, customer, service points and installed meters."""
    if not is_portal_user(user):
        return Account.objects.none()
    meters = Meter.objects.filter(removed_on__isnull=True).order_by("installed_on", "id")
    points = ServicePoint.objects.order_by("id").prefetch_related(Prefetch("meters", queryset=meters))
    return (
        Account.objects.filter(bindings__user=user)
        .select_related("customer", "premise", "unit")
        .prefetch_related(Prefetch("service_points", queryset=points))
        .order_by("account_number")
    )


def portal_account_get(*, user, account_number: str) -> Account:
    """One bound account; 404 for unknown and for not bound alike."""
    return get_or_404(portal_accounts(user=user), account_number=(account_number or "").strip())


def portal_payment_get(*, user, account_number: str, payment_id: int):
    """One payment of one of the user's bound accounts, whatever its channel; 404 for any other alike."""
    from gridcare.payments.models import Payment

    account = portal_account_get(user=user, account_number=account_number)
    return get_or_404(
        Payment.objects.select_related("account__customer", "unit", "received_by", "shift"),
        account=account,
        pk=payment_id,
    )


# ---------------------------------------------------------------- money: what is due, and the account's state


@dataclass(frozen=True)
class MoneySummary:
    """What an account owes as of a day, and its state (arrears, disconnection notice, disconnected)."""

    as_of: date
    state: str
    amount_due: Decimal  # principal + late fee: what paying today settles in full
    principal_due: Decimal
    late_fee: Decimal  # charged and unpaid, plus accrued up to `as_of`
    credit: Decimal  # 预存余额: payments not yet used by a bill
    due_date: date | None  # of the oldest bill still owing
    days_overdue: int
    unpaid_periods: list[str] = field(default_factory=list)
    planned_disconnect_on: date | None = None
    prepaid_balance: Decimal | None = (
        None  # 预计余额 of a prepaid account (credit less spend since last bill)
    )
    prepaid_low: bool = False  # that balance is below the account's threshold

    @property
    def is_prepaid(self) -> bool:
        return self.prepaid_balance is not None

    @property
    def state_label(self) -> str:
        return AccountMoneyState(self.state).label

    @property
    def owes(self) -> bool:
        return self.amount_due > 0


def money_state(
    *, amount_due: Decimal, overdue: bool, case_status: str | None, prepaid_low: bool = False
) -> str:
    """The one state a customer sees, most serious first: an open disconnection case says where it stands
    (disconnected, paid and awaiting reconnection, notice given), else overdue money is arrears (欠费), a
    prepaid account whose estimated balance is below its threshold is 余额不足, money not yet due is 待缴费,
    and nothing owed is 正常."""
    if case_status == DisconnectCaseStatus.DISCONNECTED:
        return AccountMoneyState.DISCONNECTED
    if case_status == DisconnectCaseStatus.RECONNECTING:
        return AccountMoneyState.RECONNECTING
    if case_status in (DisconnectCaseStatus.PENDING, DisconnectCaseStatus.ORDERED):
        return AccountMoneyState.DISCONNECT_NOTICE
    if overdue:
        return AccountMoneyState.ARREARS
    if prepaid_low:
        return AccountMoneyState.LOW_BALANCE
    if amount_due > 0:
        return AccountMoneyState.DUE
    return AccountMoneyState.CLEAR


def _summary(
    statement: payment_selectors.Statement, case, as_of: date, estimate: prepaid.Estimate | None = None
) -> MoneySummary:
    owing = [ln for ln in statement.lines if ln.total > 0]
    overdue = [ln for ln in owing if ln.days_overdue > 0]
    low = estimate is not None and estimate.is_low
    return MoneySummary(
        as_of=as_of,
        state=money_state(
            amount_due=statement.amount_due,
            overdue=bool(overdue),
            case_status=case.case_status if case is not None else None,
            prepaid_low=low,
        ),
        amount_due=statement.amount_due,
        principal_due=statement.principal_outstanding,
        late_fee=statement.late_fee,
        credit=statement.credit,
        due_date=min((ln.due_date for ln in owing), default=None),
        days_overdue=max((ln.days_overdue for ln in overdue), default=0),
        unpaid_periods=sorted({ln.period for ln in owing}),
        planned_disconnect_on=case.planned_disconnect_on if case is not None else None,
        prepaid_balance=estimate.remaining.quantize(CENT) if estimate is not None else None,
        prepaid_low=low,
    )


def money_summaries(accounts, as_of: date) -> dict[int, MoneySummary]:
    """Each account's `MoneySummary` as of a day, by account id: three queries whatever their number, plus one
    and one per prepaid account for the estimated balance."""
    accounts = list(accounts)
    statements = payment_selectors.statements(accounts, as_of)
    cases = collections_selectors.account_states([a.pk for a in accounts]) if accounts else {}
    estimates = prepaid.prepaid_estimates_live(accounts, today=as_of) if accounts else {}
    return {a.pk: _summary(statements[a.pk], cases.get(a.pk), as_of, estimates.get(a.pk)) for a in accounts}


def portal_account_card(account: Account, money: MoneySummary | None = None) -> dict[str, Any]:
    """What the portal shows of one account: the holder's own data, phone masked, and its money."""
    if money is None:
        money = money_summaries([account], today())[account.pk]
    return {
        "account": account,
        "account_number": account.account_number,
        "customer_name": account.customer.name,
        "customer_phone": mask_phone(account.customer.phone),
        "address": account.premise.address,
        "supply_unit": account.unit.name,
        "status": account.get_status_display(),
        "is_active": account.status == AccountStatus.ACTIVE,
        "opened_on": account.opened_on,
        "money": money,
        "service_points": [
            {
                "voltage_level": sp.get_voltage_level_display(),
                "contract_capacity_kva": sp.contract_capacity_kva,
                "tariff_code": sp.tariff_code,
                "meters": [
                    {"asset_number": m.asset_number, "multiplier": m.multiplier, "has_tou": m.has_tou}
                    for m in sp.meters.all()
                ],
            }
            for sp in account.service_points.all()
        ],
    }


def portal_account_cards(*, user, as_of: date | None = None) -> list[dict[str, Any]]:
    """Every bound account with its money as of a day (today by default), in a fixed number of queries."""
    accounts = list(portal_accounts(user=user))
    money = money_summaries(accounts, as_of or today())
    return [portal_account_card(a, money[a.pk]) for a in accounts]


# ---------------------------------------------------------------- bills with their payment status


@dataclass(frozen=True)
class BillPaymentRow:
    """One payment's share of a bill: principal and late fee it paid; `reversed` when it was taken back."""

    payment_id: int
    paid_at: Any
    channel: str
    principal: Decimal
    late_fee: Decimal
    reversed: bool

    @property
    def total(self) -> Decimal:
        return self.principal + self.late_fee


@dataclass(frozen=True)
class BillPayment:
    """Whether a bill is paid, what of it was paid, what is still owed on it today, and by which payments."""

    status: str
    amount: Decimal  # the bill's amount
    principal_paid: Decimal
    fee_paid: Decimal
    principal_due: Decimal
    late_fee_due: Decimal  # charged and unpaid, plus accrued up to today
    payments: list[BillPaymentRow] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        return BillPaymentStatus(self.status).label

    @property
    def paid(self) -> Decimal:
        return self.principal_paid + self.fee_paid

    @property
    def amount_due(self) -> Decimal:
        return self.principal_due + self.late_fee_due

    @property
    def is_paid(self) -> bool:
        return self.status == BillPaymentStatus.PAID


def bill_payment_status(
    *, principal: Decimal, principal_paid: Decimal, fee_paid: Decimal, fee_due: Decimal
) -> str:
    """Paid (已缴清): the principal and every late fee charged on it are paid; partly paid (部分缴费): some of
    it is; else unpaid (未缴). A reversed payment no longer counts: its allocations were taken back."""
    if principal_paid >= principal and fee_due <= 0:
        return BillPaymentStatus.PAID
    if principal_paid > 0 or fee_paid > 0:
        return BillPaymentStatus.PARTLY_PAID
    return BillPaymentStatus.UNPAID


def bill_payments(
    account: Account, bills, as_of: date, *, with_payments: bool = False
) -> dict[int, BillPayment]:
    """The payment status of issued bills of one account the caller may already see, by bill id: their
    receivables and what is still owed on them today (two queries), and the payments of each (one more, with
    `with_payments`). A bill without a receivable (never handed to payments) is unpaid for its whole amount."""
    bills = [b for b in bills if b.account_id == account.pk]
    receivables = {
        r.bill_id: r
        for r in Receivable.objects.filter(bill_id__in=[b.pk for b in bills], cancelled_at__isnull=True)
    }
    rows: dict[int, list[BillPaymentRow]] = {}
    if with_payments and receivables:
        allocations = (
            Allocation.objects.filter(receivable_id__in=[r.pk for r in receivables.values()])
            .select_related("payment")
            .order_by("payment__paid_at", "id")
        )
        for a in allocations:
            rows.setdefault(a.receivable_id, []).append(
                BillPaymentRow(
                    payment_id=a.payment_id,
                    paid_at=a.payment.paid_at,
                    channel=a.payment.get_channel_display(),
                    principal=a.principal,
                    late_fee=a.late_fee,
                    reversed=a.reversed,
                )
            )
    open_ids = [r.pk for r in receivables.values() if r.principal_outstanding > 0 or r.fee_outstanding > 0]
    lines = payment_selectors.statement_of_ids(account.pk, open_ids, as_of) if open_ids else []
    open_lines = {ln.bill_id: ln for ln in lines}
    out = {}
    for b in bills:
        r = receivables.get(b.pk)
        if r is None:
            out[b.pk] = BillPayment(
                status=BillPaymentStatus.UNPAID,
                amount=b.amount,
                principal_paid=ZERO,
                fee_paid=ZERO,
                principal_due=b.amount,
                late_fee_due=ZERO,
            )
            continue
        line = open_lines.get(b.pk)
        late_fee_due = line.late_fee if line is not None else ZERO
        out[b.pk] = BillPayment(
            status=bill_payment_status(
                principal=r.principal,
                principal_paid=r.principal_paid,
                fee_paid=r.fee_paid,
                fee_due=r.fee_outstanding,
            ),
            amount=b.amount,
            principal_paid=r.principal_paid,
            fee_paid=r.fee_paid,
            principal_due=r.principal_outstanding,
            late_fee_due=late_fee_due,
            payments=rows.get(r.pk, []),
        )
    return out


def portal_recent_bills(account: Account, limit: int = 13, as_of: date | None = None) -> list[dict[str, Any]]:
    """The last `limit` issued bills of an account the caller already proved is bound (portal_account_get),
    each with its payment status as of a day (three queries)."""
    bills = list(
        Bill.objects.filter(account=account, status=BillStatus.ISSUED)
        .only(
            "account_id",
            "period_start",
            "period_end",
            "kwh_total",
            "amount",
            "due_date",
            "estimated",
            "tariff_code",
        )
        .order_by("-period_start")[:limit]
    )
    status = bill_payments(account, bills, as_of or today())
    return [{"bill": b, "pay": status[b.pk]} for b in bills]


# ---------------------------------------------------------------- payment history


def portal_payments(account: Account, *, page: Any = 1) -> Page:
    """An account's payments, newest first, `PAYMENTS_PER_PAGE` a page, each with the bills it paid and its
    portal order (for the receipt link); reversed payments stay listed, marked. Three queries a page."""
    qs = (
        Payment.objects.filter(account=account)
        .select_related("order")
        .prefetch_related(
            Prefetch(
                "allocations",
                queryset=Allocation.objects.select_related("receivable").order_by(
                    "receivable__due_date", "id"
                ),
            )
        )
        .order_by("-paid_at", "-id")
    )
    return Paginator(qs, PAYMENTS_PER_PAGE).get_page(page)
