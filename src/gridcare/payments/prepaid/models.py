"""Models of prepaid accounts (预存 / 智能交费): enrolment, the daily balance estimate, low-balance alerts."""

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gridcare.payments.choices import (
    PrepaidAlertState,
)
from gridcare.payments.ledger.models import MONEY


class PrepaidAccount(models.Model):
    """An account enrolled in prepaid (智能交费): its low-balance threshold, alert state and latest estimate."""

    account = models.OneToOneField("customers.Account", on_delete=models.PROTECT, related_name="prepaid")
    enrolled_on = models.DateField(_("开通日期"))
    unenrolled_on = models.DateField(_("取消日期"), null=True, blank=True)  # set: no longer estimated
    threshold = models.DecimalField(_("余额提醒阈值(元)"), default=Decimal("50.00"), **MONEY)
    threshold_days = models.PositiveSmallIntegerField(_("可用天数提醒阈值"), null=True, blank=True)
    alert_state = models.CharField(
        _("余额提醒状态"), max_length=8, choices=PrepaidAlertState.choices, default=PrepaidAlertState.ARMED
    )
    alert_changed_on = models.DateField(_("提醒状态变更日期"), null=True, blank=True)
    last_estimate = models.ForeignKey(
        "PrepaidEstimate", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["account_id"]
        constraints = [
            models.CheckConstraint(condition=Q(threshold__gte=0), name="payments_prepaid_threshold_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} ≥{self.threshold}"

    @property
    def enrolled(self) -> bool:
        return self.unenrolled_on is None


class PrepaidEstimate(models.Model):
    """One day's balance estimate of a prepaid account (one row per account per day)."""

    prepaid = models.ForeignKey(PrepaidAccount, on_delete=models.CASCADE, related_name="estimates")
    estimated_on = models.DateField(_("估算日期"))
    available = models.DecimalField(_("可用余额(元)"), **MONEY)  # −ledger balance as of the day
    billed_amount = models.DecimalField(_("近3期电费(元)"), default=0, **MONEY)
    billed_days = models.PositiveIntegerField(_("近3期天数"), default=0)
    daily_cost = models.DecimalField(_("日均电费(元)"), null=True, blank=True, **MONEY)  # null: no bill yet
    last_billed_on = models.DateField(_("最近账单截止日"), null=True, blank=True)
    spend_since = models.DecimalField(_("账单后估算用电(元)"), default=0, **MONEY)
    remaining = models.DecimalField(_("估算剩余余额(元)"), **MONEY)
    days_left = models.IntegerField(_("预计可用天数"), null=True, blank=True)  # null: no daily cost
    is_low = models.BooleanField(_("低于阈值"), default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-estimated_on", "prepaid_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["prepaid", "estimated_on"], name="payments_prepaid_estimate_day_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prepaid_id} {self.estimated_on} {self.remaining}"


class PrepaidAlert(models.Model):
    """A low-balance alert: raised once when the estimate crosses below the threshold (at most once a day)."""

    prepaid = models.ForeignKey(PrepaidAccount, on_delete=models.CASCADE, related_name="alerts")
    raised_on = models.DateField(_("提醒日期"))
    remaining = models.DecimalField(_("估算剩余余额(元)"), **MONEY)
    days_left = models.IntegerField(_("预计可用天数"), null=True, blank=True)
    threshold = models.DecimalField(_("余额提醒阈值(元)"), **MONEY)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-raised_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["prepaid", "raised_on"], name="payments_prepaid_alert_day_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.prepaid_id} {self.raised_on} {self.remaining}"
