"""The receipt of any payment (电费收据 / 缴费凭证), as staff print it from `/payments/{id}/receipt/`.

Every payment has one, whatever its channel: a counter payment prints its receipt number, the cash
tendered (实收), the change (找零) and the account's figures stored with it when it was taken
(`CounterReceipt`), so a reprint (补打) shows exactly the same; an online order its order number; a bank
withholding its batch and bank; a terminal payment its terminal. The amount is also written in Chinese
capitals (人民币大写). A reversed payment's receipt says 已冲正 (when and why) and its bills as undone; credit of
the payment refunded to the customer (退费) is listed with the refund, and so is money returned to the original
channel (原路退回, once the channel has refunded it): "已退款 X 元", the bills it re-opened shown as taken back.

Reads only; the view scopes the payment to the user's units first (`receipt_payments`).
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from gridcare.core.masking import mask_customer_name
from gridcare.core.money import rmb_upper
from gridcare.core.permissions import Perm
from gridcare.core.scoping import restrict
from gridcare.payments.choices import PaymentChannel, PaymentStatus, RefundMethod, RefundStatus
from gridcare.payments.ledger import statement as selectors
from gridcare.payments.models import (
    Allocation,
    CounterReceipt,
    Payment,
    PaymentOrder,
    RefundPart,
    Terminal,
    WithholdingItem,
)

COUNTER_CHANNELS = (PaymentChannel.COUNTER_CASH, PaymentChannel.COUNTER_CARD)


@dataclass(frozen=True)
class RefundLine:
    amount: Decimal
    method: str
    decided_at: datetime | None


@dataclass
class Receipt:
    payment: Payment
    name: str  # the customer's name, masked
    amount_upper: str  # 人民币大写
    is_counter: bool
    counter: CounterReceipt | None = None  # tendered, change and the figures just after (counter payments)
    order_no: str = ""  # online orders (portal, Alipay, WeChat)
    bank: str = ""  # bank withholding: the bank's name
    batch_no: str = ""  # and the batch (代扣批次)
    terminal: str = ""  # self-service terminal: code and place
    allocations: list[Allocation] = field(default_factory=list)
    refunds: list[RefundLine] = field(default_factory=list)
    refunded: Decimal = Decimal("0.00")  # returned to the original channel (原路退回), settled
    owed: Decimal = Decimal("0.00")  # 仍欠: after the payment (counter) or as of today (others)
    owed_as_of_today: bool = True
    to_credit: Decimal = Decimal("0.00")

    @property
    def reversed(self) -> bool:
        return self.payment.status == PaymentStatus.REVERSED


def receipt_payments(user):
    """Payments whose receipt the user may see: those of their units (customer.view)."""
    return restrict(
        Payment.objects.select_related("account__customer", "unit", "received_by", "shift"),
        user,
        Perm.CUSTOMER_VIEW,
    )


def receipt_of(payment: Payment, *, today=None) -> Receipt:
    """Everything a payment's receipt prints (a fixed number of queries)."""
    counter = CounterReceipt.objects.filter(payment=payment).first()
    allocations = payment.allocations.select_related("receivable").order_by("id")
    if counter is not None:
        # What the payment paid when it was taken; credit it left pays later bills on their own receipts.
        allocations = allocations.filter(created_at__lte=counter.created_at)
    r = Receipt(
        payment=payment,
        name=mask_customer_name(payment.account.customer.name, payment.account.customer.kind),
        amount_upper=rmb_upper(payment.amount),
        is_counter=payment.channel in COUNTER_CHANNELS,
        counter=counter,
        allocations=list(allocations),
    )
    order = PaymentOrder.objects.filter(payment=payment).only("order_no").first()
    r.order_no = order.order_no if order else ""
    if payment.channel == PaymentChannel.BANK:
        item = WithholdingItem.objects.filter(payment=payment).select_related("batch", "agreement").first()
        if item is not None:
            r.bank, r.batch_no = item.agreement.bank_name, item.batch.batch_no
    elif payment.channel == PaymentChannel.TERMINAL and ":" in payment.channel_txn_id:
        code = payment.channel_txn_id.split(":", 1)[0]
        t = Terminal.objects.filter(code=code).first()
        r.terminal = f"{code} {t.name}".strip() if t else code
    parts = list(
        RefundPart.objects.filter(payment=payment, refund__status=RefundStatus.APPROVED)
        .select_related("refund")
        .order_by("id")
    )
    r.refunds = [
        RefundLine(p.amount, p.refund.get_method_display(), p.refund.refunded_at or p.refund.decided_at)
        for p in parts
    ]
    r.refunded = sum((p.amount for p in parts if p.refund.method == RefundMethod.ORIGINAL), Decimal("0.00"))
    if counter is not None:
        r.owed, r.owed_as_of_today, r.to_credit = counter.owed_after, False, counter.to_credit
    else:
        r.owed = selectors.statement(payment.account, today or timezone.localdate()).amount_due
        r.to_credit = payment.unallocated
    return r
