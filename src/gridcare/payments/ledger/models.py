"""The account ledger (电费账), receivables per issued bill, payments and their allocations.

- `LedgerEntry`: one row per money event on an account; the balance is their sum (positive: owed;
  negative: credit). Nothing is updated or deleted: a reversal is a new entry.
- `Receivable` (应收): one per issued bill — principal, what has been paid of it, and the late fee charged
  and paid so far, with `fee_through`, the date up to which the late fee has been charged.
- `Payment`: unique per (channel, channel transaction id), so a duplicate notification finds the payment it
  already made. `unallocated` is what is left as credit after paying the account's debts.
- `Allocation`: how much of a payment went to a receivable's late fee and principal.
"""

from typing import TypedDict

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gridcare.payments.choices import (
    EntryKind,
    PaymentChannel,
    PaymentStatus,
    RefundChannelStatus,
    RefundMethod,
    RefundStatus,
    WaiverStatus,
)


class _MoneyArgs(TypedDict):
    max_digits: int
    decimal_places: int


# A TypedDict rather than a plain dict so that `**MONEY` type-checks against DecimalField's keyword arguments.
MONEY: _MoneyArgs = {"max_digits": 14, "decimal_places": 2}


class Payment(models.Model):
    # account_id alone is served by the (account, …) index in Meta: no second index to keep up on every write.
    account = models.ForeignKey(
        "customers.Account", on_delete=models.PROTECT, db_index=False, related_name="payments"
    )
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="payments")
    channel = models.CharField(_("缴费渠道"), max_length=16, choices=PaymentChannel.choices)
    channel_txn_id = models.CharField(_("渠道流水号"), max_length=64)
    amount = models.DecimalField(_("金额(元)"), **MONEY)
    unallocated = models.DecimalField(_("未分配(预存)金额"), **MONEY)
    paid_at = models.DateTimeField(_("缴费时间"))
    status = models.CharField(
        _("状态"), max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.POSTED
    )
    # received_by and shift: null on every channel payment, so their indexes (Meta) skip the nulls.
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_index=False,
        related_name="payments_received",
    )
    reversed_at = models.DateTimeField(_("冲正时间"), null=True, blank=True)
    reversal_reason = models.TextField(_("冲正原因"), blank=True)
    # The cashier's shift a counter payment was taken in (收费班次); null for every other channel.
    shift = models.ForeignKey(
        "payments.CashierShift",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,
        related_name="payments",
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-paid_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "channel_txn_id"], name="payments_payment_channel_txn_uniq"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(unallocated__gte=0), name="payments_payment_unallocated_nonneg"
            ),
        ]
        indexes = [
            models.Index(fields=["account", "paid_at"]),
            models.Index(
                fields=["received_by"],
                condition=Q(received_by__isnull=False),
                name="payments_pay_receiver_idx",
            ),
            models.Index(fields=["shift"], condition=Q(shift__isnull=False), name="payments_pay_shift_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.channel}:{self.channel_txn_id} {self.amount}"


class ReceivableQuerySet(models.QuerySet):
    def open(self):
        """Receivables not cancelled with principal, or a late fee already charged, still to pay."""
        return self.filter(cancelled_at__isnull=True).filter(
            Q(principal_paid__lt=models.F("principal"))
            | Q(fee_paid__lt=models.F("fee_charged") - models.F("fee_waived"))
        )


class Receivable(models.Model):
    bill = models.OneToOneField("billing.Bill", on_delete=models.PROTECT, related_name="receivable")
    # account_id and unit_id alone are served by the (account, due_date) and (unit, due_date) indexes in Meta.
    account = models.ForeignKey(
        "customers.Account", on_delete=models.PROTECT, db_index=False, related_name="receivables"
    )
    unit = models.ForeignKey(
        "org.SupplyUnit", on_delete=models.PROTECT, db_index=False, related_name="receivables"
    )
    customer_class = models.CharField(_("用电类别"), max_length=20)
    bill_year = models.PositiveSmallIntegerField(_("电费年份"))
    period = models.CharField(_("账期"), max_length=7)
    due_date = models.DateField(_("缴费截止日"))
    principal = models.DecimalField(_("应收电费"), **MONEY)
    principal_paid = models.DecimalField(_("已收电费"), default=0, **MONEY)
    fee_charged = models.DecimalField(_("已计违约金"), default=0, **MONEY)
    fee_paid = models.DecimalField(_("已收违约金"), default=0, **MONEY)
    fee_waived = models.DecimalField(_("已减免违约金"), default=0, **MONEY)
    fee_through = models.DateField(_("违约金计至"), null=True, blank=True)
    # Set when the bill is cancelled (作废): the receivable is closed, its payments become credit.
    cancelled_at = models.DateTimeField(_("作废时间"), null=True, blank=True)
    created_at = models.DateTimeField()

    objects = ReceivableQuerySet.as_manager()

    # A column of the raw statement in statement.open_receivables_and_prepaid (the account's prepaid
    # enrolment, on each row); declared for the type checker, not a field.
    prepaid_enrolled: bool

    class Meta:
        ordering = ["due_date", "id"]
        indexes = [
            models.Index(fields=["account", "due_date"]),
            models.Index(fields=["unit", "due_date"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(principal_paid__gte=0) & Q(principal_paid__lte=models.F("principal")),
                name="payments_receivable_principal_paid_range",
            ),
            models.CheckConstraint(
                condition=Q(fee_paid__gte=0)
                & Q(fee_waived__gte=0)
                & Q(fee_paid__lte=models.F("fee_charged") - models.F("fee_waived")),
                name="payments_receivable_fee_paid_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.period} {self.principal}"

    @property
    def principal_outstanding(self):
        return self.principal - self.principal_paid

    @property
    def fee_outstanding(self):
        return self.fee_charged - self.fee_waived - self.fee_paid


class Allocation(models.Model):
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations")
    receivable = models.ForeignKey(Receivable, on_delete=models.PROTECT, related_name="allocations")
    principal = models.DecimalField(**MONEY)
    late_fee = models.DecimalField(**MONEY)
    reversed = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.payment_id}→{self.receivable_id}: {self.late_fee} + {self.principal}"


class LedgerEntry(models.Model):
    # account_id alone is served by the (account, …) index in Meta: no second index to keep up on every write.
    account = models.ForeignKey(
        "customers.Account", on_delete=models.PROTECT, db_index=False, related_name="ledger_entries"
    )
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="ledger_entries")
    kind = models.CharField(_("类型"), max_length=12, choices=EntryKind.choices)
    amount = models.DecimalField(_("金额(元)"), **MONEY)  # + owed by the customer, − credit
    # bill: null on payment entries; payment: null on bill and late-fee entries. Indexed (Meta) where set.
    bill = models.ForeignKey(
        "billing.Bill", null=True, blank=True, on_delete=models.PROTECT, db_index=False, related_name="+"
    )
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, db_index=False, related_name="entries"
    )
    occurred_on = models.DateField(_("发生日期"))
    note = models.CharField(_("说明"), max_length=200, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["account", "occurred_on", "id"]
        indexes = [
            models.Index(fields=["account", "occurred_on"]),
            models.Index(fields=["bill"], condition=Q(bill__isnull=False), name="payments_entry_bill_idx"),
            models.Index(
                fields=["payment"], condition=Q(payment__isnull=False), name="payments_entry_payment_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.kind} {self.amount}"


class FeeWaiver(models.Model):
    """A late-fee waiver (违约金减免): requested by one person, approved (or rejected) by a manager."""

    receivable = models.ForeignKey(Receivable, on_delete=models.PROTECT, related_name="waivers")
    amount = models.DecimalField(_("减免金额(元)"), **MONEY)
    reason = models.TextField(_("减免原因"))
    status = models.CharField(
        _("状态"), max_length=10, choices=WaiverStatus.choices, default=WaiverStatus.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="fee_waivers_requested"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="fee_waivers_decided",
    )
    requested_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_waiver_amount_positive")
        ]

    def __str__(self) -> str:
        return f"{self.receivable_id} −{self.amount} {self.status}"


class Refund(models.Model):
    """A refund of an account's credit balance (退费): requested by a cashier or billing clerk, paid out only
    when a manager approves it. `RefundPart` rows say which payments' credit it took."""

    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="refunds")
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(_("退费金额(元)"), **MONEY)
    reason = models.TextField(_("退费原因"))
    method = models.CharField(_("退费方式"), max_length=16, choices=RefundMethod.choices)
    status = models.CharField(
        _("状态"), max_length=10, choices=RefundStatus.choices, default=RefundStatus.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="refunds_requested"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="refunds_decided",
    )
    decision_note = models.CharField(_("审批意见"), max_length=200, blank=True)
    requested_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    # A refund to the original channel (原路退回, issue 13 §3) names the payment it returns money of; its
    # refund number is what the channel deduplicates by; the channel's own id and state follow its answers.
    # `origin` "channel": made on the channel's side (no approval), recorded from its notification.
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="refunds", db_index=False
    )
    refund_no = models.CharField(_("退款单号"), max_length=64, null=True, blank=True)
    channel_refund_id = models.CharField(_("渠道退款单号"), max_length=64, blank=True, default="")
    channel_status = models.CharField(_("渠道退款状态"), max_length=12, blank=True, default="")
    origin = models.CharField(max_length=8, default="staff")
    refunded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_refund_amount_positive"),
            models.UniqueConstraint(
                fields=["refund_no"], condition=Q(refund_no__isnull=False), name="payments_refund_no_uniq"
            ),
        ]
        indexes = [
            models.Index(fields=["unit", "status"]),
            models.Index(
                fields=["payment"], condition=Q(payment__isnull=False), name="payments_refund_payment_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount} {self.status}"

    @property
    def channel_status_label(self) -> str:
        """处理中 / 成功 / 失败 for a refund to the original channel; blank for the other methods."""
        return str(dict(RefundChannelStatus.choices).get(self.channel_status, self.channel_status))


class RefundPart(models.Model):  # noqa: DJ008
    refund = models.ForeignKey(Refund, on_delete=models.PROTECT, related_name="parts")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refund_parts")
    amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["id"]
