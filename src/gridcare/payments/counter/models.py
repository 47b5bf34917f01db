"""Models of the counter (柜台): cashier shifts and the receipt of each counter payment."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gridcare.payments.choices import (
    ShiftStatus,
)
from gridcare.payments.ledger.models import MONEY, Payment


class CashierShift(models.Model):
    """A cashier's shift at a counter (收费班次): opened with a cash float, closed by the till close (日结)
    when the counted cash and the card total match the shift's posted payments. At most one open shift per
    cashier. The expected/declared figures are written at the close."""

    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="cashier_shifts")
    cashier = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="cashier_shifts"
    )
    counter = models.CharField(_("收费窗口"), max_length=40)
    opening_float = models.DecimalField(_("备用金(元)"), **MONEY)
    status = models.CharField(_("状态"), max_length=8, choices=ShiftStatus.choices, default=ShiftStatus.OPEN)
    opened_at = models.DateTimeField(_("开班时间"))
    closed_at = models.DateTimeField(_("日结时间"), null=True, blank=True)
    payments_count = models.PositiveIntegerField(_("笔数"), default=0)
    expected_cash = models.DecimalField(_("应收现金"), null=True, blank=True, **MONEY)
    expected_card = models.DecimalField(_("应收刷卡"), null=True, blank=True, **MONEY)
    declared_cash = models.DecimalField(_("实点现金"), null=True, blank=True, **MONEY)
    declared_card = models.DecimalField(_("刷卡汇总"), null=True, blank=True, **MONEY)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cashier"], condition=Q(status="open"), name="payments_shift_one_open_per_cashier"
            ),
            models.CheckConstraint(condition=Q(opening_float__gte=0), name="payments_shift_float_nonneg"),
        ]
        indexes = [models.Index(fields=["unit", "opened_at"])]

    def __str__(self) -> str:
        return f"{self.cashier_id} {self.counter} {self.opened_at:%Y-%m-%d %H:%M}"


class CounterReceipt(models.Model):
    """What a counter payment's receipt (电费收据) prints beyond the payment: the cash tendered (实收), the change
    (找零) and the account's figures right after it, so a reprint (补打) shows the same; and the counter form's
    token, unique, so that a form submitted twice records one payment."""

    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="counter_receipt")
    # One per rendering of the counter form; null for counter payments through the API (no form).
    form_token = models.CharField(_("收费表单令牌"), max_length=64, null=True, blank=True, unique=True)
    tendered = models.DecimalField(_("实收(元)"), **MONEY)
    change = models.DecimalField(_("找零(元)"), **MONEY)
    owed_after = models.DecimalField(_("缴费后仍欠(元)"), **MONEY)  # the account's amount due just after
    to_credit = models.DecimalField(_("转为预存(元)"), **MONEY)  # what of this payment was left as credit
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(change__gte=0), name="payments_counter_receipt_change_nonneg"),
            models.CheckConstraint(condition=Q(tendered__gt=0), name="payments_counter_receipt_tendered_pos"),
        ]

    def __str__(self) -> str:
        return f"{self.payment_id} {self.tendered} − {self.change}"
