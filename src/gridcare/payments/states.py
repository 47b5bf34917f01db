"""The allowed state transitions of the payments models, in one table (issue 12 §4 "Typed states").

Each service that changes a state calls `check_transition(Model, old, new)` just before writing it. The
services already refuse the user's wrong moves with their own messages (a refund already decided, an
exception already handled…); this table is the rule those checks implement, in one place a reader and a
test can see, and it refuses any write that would break it — a `TransitionRefused` (a ValidationError,
so the API answers 422 and the pages show it, never a 500) naming the model and both states.

A state missing from a model's table is final: nothing leaves it.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .channels.models import PaymentOrder, WithholdingBatch, WithholdingItem
from .choices import (
    BatchStatus,
    ExceptionStatus,
    ItemStatus,
    OrderStatus,
    PaymentStatus,
    RefundStatus,
    ShiftStatus,
    StatementStatus,
    WaiverStatus,
)
from .counter.models import CashierShift
from .ledger.models import FeeWaiver, Payment, Refund
from .reconciliation.models import ReconciliationException, StatementImport

TRANSITIONS: dict[type[models.Model], dict[str, set[str]]] = {
    # A reversal (冲正) is final: a reversed payment is never posted again (a new payment is).
    Payment: {PaymentStatus.POSTED: {PaymentStatus.REVERSED}},
    # A channel's notification pays an order once; an order no longer payable is closed.
    PaymentOrder: {OrderStatus.CREATED: {OrderStatus.PAID, OrderStatus.CLOSED}},
    # Decided once, by an approver; a cancelled bill's pending waivers are rejected.
    FeeWaiver: {WaiverStatus.PENDING: {WaiverStatus.APPROVED, WaiverStatus.REJECTED}},
    Refund: {RefundStatus.PENDING: {RefundStatus.APPROVED, RefundStatus.REJECTED}},
    CashierShift: {ShiftStatus.OPEN: {ShiftStatus.CLOSED}},
    # Settled when the bank's result file leaves no item pending.
    WithholdingBatch: {BatchStatus.EXPORTED: {BatchStatus.SETTLED}},
    # The bank's result, once: a second result file may repeat it, never change it.
    WithholdingItem: {ItemStatus.PENDING: {ItemStatus.DEBITED, ItemStatus.FAILED}},
    # A later file of the same channel and day supersedes the current one; importing a superseded file
    # again (the same bytes) makes it current again.
    StatementImport: {
        StatementStatus.CURRENT: {StatementStatus.SUPERSEDED},
        StatementStatus.SUPERSEDED: {StatementStatus.CURRENT},
    },
    # Resolved by a cashier (with a note, or by backfilling the payment), or superseded with its statement.
    ReconciliationException: {ExceptionStatus.OPEN: {ExceptionStatus.RESOLVED, ExceptionStatus.SUPERSEDED}},
}


# What the refusal calls each model.
NAMES = {
    Payment: gettext_lazy("缴费"),
    PaymentOrder: gettext_lazy("支付订单"),
    FeeWaiver: gettext_lazy("违约金减免"),
    Refund: gettext_lazy("退费"),
    CashierShift: gettext_lazy("收费班次"),
    WithholdingBatch: gettext_lazy("代扣批次"),
    WithholdingItem: gettext_lazy("代扣明细"),
    StatementImport: gettext_lazy("对账单"),
    ReconciliationException: gettext_lazy("对账差错"),
}


class TransitionRefused(ValidationError):
    """A state change the model's table does not allow."""


def allowed(model: type[models.Model], old: str) -> set[str]:
    """The states `model` may go to from `old` (empty: `old` is final)."""
    return set(TRANSITIONS[model].get(old, set()))


def check_transition(model: type[models.Model], old: str, new: str) -> None:
    """Refuse (`TransitionRefused`) a change of `model`'s state from `old` to `new` that the table forbids."""
    if new not in allowed(model, old):
        field = model._meta.get_field("status")
        labels = dict(field.choices or ())
        raise TransitionRefused(
            {
                "status": [
                    _("%(what)s的状态不能从「%(old)s」变为「%(new)s」")
                    % {
                        "what": NAMES[model],
                        "old": labels.get(old, old),
                        "new": labels.get(new, new),
                    }
                ]
            }
        )
