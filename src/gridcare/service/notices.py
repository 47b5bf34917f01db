"""Notices of work orders through the outbox (issue 15 §8): on acceptance, crew dispatch and closing, and when a
不满意 callback reopens an order. Queued inside the caller's transaction (`services.work_order_act`), so they
commit or roll back with the step.

- An order with an account: `notification_enqueue` to the account's customer, on each channel they enabled.
- An order with only a caller's mobile number: one transactional SMS (`transactional_sms_enqueue`); a landline
  gets nothing (it cannot receive an SMS).

The dedupe key `workorder:<order id>:<event>:<round>` names the event: the round is the order's reopen count, so
the second dispatch after a reopen is a new notice while a retried call of the same step writes nothing.
Nothing is queued inside `notify.outbox.notices_muted()` (backfills, demo history)."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from gridcare.core.validators import MOBILE_RE
from gridcare.notify.choices import Kind
from gridcare.notify.outbox import notices_are_muted, notification_enqueue, transactional_sms_enqueue

from .choices import OrderType

log = logging.getLogger("gridcare.service")

KIND_OF_EVENT = {
    "accepted": Kind.WORKORDER_ACCEPTED,
    "dispatched": Kind.WORKORDER_DISPATCHED,
    "closed": Kind.WORKORDER_CLOSED,
    "reopened": Kind.WORKORDER_REOPENED,
}
# The commitment an acceptance notice promises: the last of the order's deadlines counted from receipt (a
# complaint's reply rather than its first contact), in the contract's order.
MAIN_DEADLINE = ["complete", "reply", "contact", "arrival"]


def promise_text(name: str) -> str:
    """What the customer is promised by a deadline, as the notice's verb phrase (…前答复您)."""
    return {
        "arrival": _("到达现场"),
        "contact": _("与您联系"),
        "reply": _("答复您"),
        "complete": _("办结"),
    }.get(name, "")


def dedupe_key(order, event: str) -> str:
    return f"workorder:{order.pk}:{event}:{_round(order)}"


def _round(order) -> int:
    count = order.reopen_count
    if not isinstance(count, int):  # an F() expression: the reopen being saved right now counts
        from .models import WorkOrder

        stored = WorkOrder.objects.filter(pk=order.pk).values_list("reopen_count", flat=True).first() or 0
        count = stored + 1
    return count


def _context(order, event: str) -> dict:
    from .models import WorkOrderDeadline

    context = {
        "number": order.number,
        "type": str(OrderType(order.order_type).label),
        "deadline": "",
        "promise": "",
    }
    due = dict(WorkOrderDeadline.objects.filter(order_id=order.pk).values_list("name", "due_at"))
    if event == "dispatched":
        name = "arrival" if "arrival" in due else ""
    elif event == "accepted":
        name = next((n for n in MAIN_DEADLINE if n in due), "")
    else:
        name = ""
    if name:
        context["deadline"] = due[name]
        context["promise"] = promise_text(name)
    return context


def _mobile(phone: str) -> str:
    phone = (phone or "").strip().replace(" ", "").replace("-", "")
    phone = phone.removeprefix("+86")
    return phone if MOBILE_RE.fullmatch(phone) else ""


def queue(order, event: str) -> None:
    """Queue the customer's notice for `event` (accepted / dispatched / closed / reopened) of `order`: through
    the customer's channels when the order has an account, else one SMS to the caller's mobile number. Calling
    it again for the same step (a retry) queues nothing. A template an administrator broke is logged, never a
    reason to refuse the step itself."""
    kind = KIND_OF_EVENT.get(str(event))
    if kind is None or notices_are_muted():
        return
    key = dedupe_key(order, str(event))
    try:
        context = _context(order, str(event))
        if order.account_id:
            from gridcare.customers.models import Account

            customer_id = (
                Account.objects.filter(pk=order.account_id).values_list("customer_id", flat=True).get()
            )
            notification_enqueue(
                kind=kind,
                customer_id=customer_id,
                account_id=order.account_id,
                context=context,
                dedupe_key=key,
            )
            return
        phone = _mobile(order.phone)
        if phone:
            transactional_sms_enqueue(kind=kind, phone=phone, context=context, dedupe_key=key)
    except ValidationError as exc:
        log.error("work-order notice %s not queued: %s", key, "; ".join(exc.messages))
