"""What the customer page shows at the top for each account (客户全景 · 电费与催费): what is owed, the arrears
past due, the last payment and the open collection steps (the disconnection case and open tasks).

Five queries for all the accounts of the page, whatever their number. The amounts come from
`payments.ledger.statement.amounts_due` (the statement's figures: outstanding principal, charged unpaid late fee and
the fee accrued up to `today`), so the page says what the counter, the statement and the ledger say.
The caller passes accounts it may show (the customer page's own, scoped by its selector).
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import OuterRef, Subquery

from gridcare.customers.models import Account
from gridcare.payments.choices import PaymentStatus
from gridcare.payments.ledger.statement import amounts_due
from gridcare.payments.models import CollectionTask, DunningNotice, Payment

from .selectors import OPEN_TASK, account_states

ZERO = Decimal("0.00")


@dataclass
class AccountSummary:
    """One account's money and collection state on a given day."""

    account_id: int
    amount_due: Decimal = ZERO  # everything open: bills not yet due too, late fee accrued up to today
    arrears: Decimal = ZERO  # the part of amount_due on bills past their due date (逾期欠费, with late fee)
    last_payment: Payment | None = None
    case: DunningNotice | None = None  # the open disconnection case (停电通知 → 复电)
    tasks: list[CollectionTask] = field(default_factory=list)  # open disconnection / reconnection tasks

    @property
    def has_steps(self) -> bool:
        return self.case is not None or bool(self.tasks)


def account_summaries(account_ids: list[int], today: date) -> dict[int, AccountSummary]:
    ids = sorted(set(account_ids))
    out = {pk: AccountSummary(pk) for pk in ids}
    if not ids:
        return out
    for pk, amount in amounts_due(ids, today).items():
        out[pk].amount_due = amount
    for pk, amount in amounts_due(ids, today, due_before=today).items():
        out[pk].arrears = amount
    last = Payment.objects.filter(account_id=OuterRef("pk"), status=PaymentStatus.POSTED).order_by(
        "-paid_at", "-id"
    )
    latest_ids = (
        Account.objects.filter(pk__in=ids).annotate(last_id=Subquery(last.values("pk")[:1])).values("last_id")
    )
    for p in Payment.objects.filter(pk__in=latest_ids):
        out[p.account_id].last_payment = p
    for pk, case in account_states(ids).items():
        out[pk].case = case
    for t in CollectionTask.objects.filter(account_id__in=ids, status__in=OPEN_TASK).order_by("due_at", "id"):
        out[t.account_id].tasks.append(t)
    return out
