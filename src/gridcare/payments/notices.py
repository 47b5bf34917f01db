"""The payments app's notices through the notification outbox (SPEC C9): payment receipts, refunds, dunning
notices (reminder, overdue, disconnection, reconnection) and prepaid low-balance alerts.

Receipts and refunds are enqueued inside the transaction that records them, so the notice commits (or rolls
back) with the money; a payment receipt is only a `PendingNotice` row there (the payment notification path is
hot), rendered later by `render_pending_receipts`. Dunning notices and low-balance alerts are handed over after their job commits (the
`on_dunning_notices` / `on_prepaid_low_balance` seams); each call reads its rows in bulk and enqueues them
in one set-based write, in its own transaction. Every notice has a dedupe key naming its event, so a
retried call writes nothing twice.
"""

import logging
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from gridcare.notify.choices import Kind
from gridcare.notify.models import PendingNotice
from gridcare.notify.outbox import notice_row, notices_render_pending, notifications_enqueue_bulk

from .choices import DunningStage

ZERO = Decimal("0.00")

logger = logging.getLogger("gridcare.payments")

STAGE_KIND = {
    DunningStage.REMINDER: Kind.DUE_REMINDER,
    DunningStage.OVERDUE: Kind.OVERDUE,
    DunningStage.DISCONNECT: Kind.DISCONNECT_NOTICE,
    DunningStage.RECONNECT: Kind.RECONNECTION,
}


def _enqueue_beside_money(what: str, items: list[dict]) -> None:
    """Enqueue inside a money transaction: a notice problem (an edited template that no longer renders) is
    logged for the operator and never refuses the payment or refund (a small enqueue renders before it writes,
    so a refused one has written nothing). The keys name a payment or refund made in this transaction: new."""
    try:
        notifications_enqueue_bulk(items, keys_are_new=True)
    except ValidationError as exc:
        logger.error("%s notice not enqueued: %s", what, "; ".join(exc.messages))


def payment_receipt_row(*, payment, customer_id: int, account) -> "PendingNotice | None":
    """缴费成功 to the paying account's customer: the `PendingNotice` row (unsaved) the payment writes in its
    own transaction, so no receipt is lost and none goes out for a payment that rolled back. The template is
    rendered off the request by `render_pending_receipts`. A notice problem never refuses the payment."""
    try:
        return notice_row(
            kind=Kind.PAYMENT_RECEIPT,
            customer_id=customer_id,
            account_id=account.pk,
            account_number=account.account_number,
            context={"amount": payment.amount, "paid_at": payment.paid_at},
            dedupe_key=f"receipt:{payment.pk}",
        )
    except ValidationError as exc:
        logger.error("payment receipt notice not enqueued: %s", "; ".join(exc.messages))
        return None


def render_pending_receipts(*, limit: int = 5000) -> int:
    """Render the payment receipts (缴费成功) written by payments since the last call onto their customers'
    channels; returns how many. The scheduled job (and `gridcare payment_receipts_render`) calls it; the
    dispatch job then sends them."""
    return notices_render_pending(kinds=[Kind.PAYMENT_RECEIPT], limit=limit)


def refund_enqueue(*, refund, customer_id: int) -> None:
    """退费通知 when a refund is approved (inside the approval's transaction)."""
    _enqueue_beside_money(
        "refund",
        [
            {
                "kind": Kind.REFUND,
                "customer_id": customer_id,
                "account_id": refund.account_id,
                "context": {"amount": refund.amount},
                "dedupe_key": f"refund:{refund.pk}",
            }
        ],
    )


def dunning_notices_enqueue(notice_ids: list[int]) -> int:
    """Enqueue the dunning notices `notice_ids` and mark them handed to the outbox (`sent_at`); returns the
    number of outbox rows written. Notices already handed over are skipped.

    Reminders and overdue notices of one account from the same call go out as ONE message (a customer
    with three overdue bills gets one 欠费通知 with their total and the earliest due date, not three);
    disconnection and reconnection notices go one by one."""
    from .models import DunningNotice

    if not notice_ids:
        return 0
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            DunningNotice.objects.filter(pk__in=notice_ids, sent_at__isnull=True)
            .select_related("account", "receivable")
            .only(
                "pk",
                "stage",
                "arrears",
                "planned_disconnect_on",
                "account__customer_id",
                "account_id",
                "receivable__due_date",
            )
            .order_by("pk")
        )
        groups: dict[tuple, list] = {}
        for n in rows:
            per_bill = n.stage in (DunningStage.REMINDER, DunningStage.OVERDUE)
            groups.setdefault((n.account_id, n.stage) if per_bill else ("one", n.pk), []).append(n)
        items = []
        for notices in groups.values():
            first = notices[0]
            context = {"amount": sum((n.arrears for n in notices), ZERO)}
            dues = [n.receivable.due_date for n in notices if n.receivable is not None]
            if first.stage in (DunningStage.REMINDER, DunningStage.OVERDUE) and dues:
                context["due_date"] = min(dues)
            if first.stage == DunningStage.DISCONNECT:
                context["disconnect_date"] = first.planned_disconnect_on
            items.append(
                {
                    "kind": STAGE_KIND[first.stage],
                    "customer_id": first.account.customer_id,
                    "account_id": first.account_id,
                    "context": context,
                    "dedupe_key": f"dunning:{first.pk}",  # the group's first notice names it
                }
            )
        written = notifications_enqueue_bulk(items, now=now)
        DunningNotice.objects.filter(pk__in=[n.pk for n in rows]).update(sent_at=now)
    return written


def low_balance_enqueue(alert_ids: list[int]) -> int:
    """Enqueue 余额不足提醒 for the prepaid alerts `alert_ids` (remaining balance and days left)."""
    from .models import PrepaidAlert

    if not alert_ids:
        return 0
    rows = list(
        PrepaidAlert.objects.filter(pk__in=alert_ids)
        .select_related("prepaid__account")
        .only("pk", "remaining", "days_left", "prepaid__account_id", "prepaid__account__customer_id")
    )
    with transaction.atomic():
        return notifications_enqueue_bulk(
            [
                {
                    "kind": Kind.LOW_BALANCE,
                    "customer_id": a.prepaid.account.customer_id,
                    "account_id": a.prepaid.account_id,
                    "context": {"amount": a.remaining, "days_left": a.days_left},
                    "dedupe_key": f"low_balance:{a.pk}",
                }
                for a in rows
            ]
        )
