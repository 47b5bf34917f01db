"""Models of collections (催费): dunning policies, dunning notices and disconnection cases, collection tasks."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gridcare.payments.choices import (
    DisconnectCaseStatus,
    DunningStage,
    TaskKind,
    TaskStatus,
)
from gridcare.payments.ledger.models import MONEY, Payment, Receivable


class DunningPolicy(models.Model):
    """催费策略: the days and thresholds of the dunning procedure; the row without a unit is the default and a
    unit's row overrides it for that unit's subtree (the nearest one wins)."""

    unit = models.OneToOneField(
        "org.SupplyUnit",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="dunning_policy",
        verbose_name=_("供电单位（空：默认策略）"),
    )
    reminder_days_before = models.PositiveSmallIntegerField(_("到期前几天提醒"), default=3)
    overdue_days_after = models.PositiveSmallIntegerField(_("逾期几天后发逾期通知"), default=1)
    disconnect_after_days = models.PositiveSmallIntegerField(_("最早欠费逾期几天后发停电通知"), default=30)
    disconnect_min_arrears = models.DecimalField(
        _("发停电通知的最低欠费(元)"), default=Decimal("50.00"), **MONEY
    )
    notice_days_residential = models.PositiveSmallIntegerField(_("居民停电通知提前天数"), default=7)
    notice_days_other = models.PositiveSmallIntegerField(_("非居民停电通知提前天数"), default=3)
    reconnect_hours = models.PositiveSmallIntegerField(_("缴清后复电时限(小时)"), default=24)

    class Meta:
        verbose_name = _("催费策略")
        verbose_name_plural = _("催费策略")
        constraints = [
            models.CheckConstraint(
                condition=Q(notice_days_residential__gte=7), name="payments_policy_res_notice_min7"
            ),
            models.CheckConstraint(
                condition=Q(notice_days_other__gte=3), name="payments_policy_other_notice_min3"
            ),
            models.CheckConstraint(
                condition=Q(reconnect_hours__lte=24) & Q(reconnect_hours__gte=1),
                name="payments_policy_reconnect_hours_range",
            ),
            models.CheckConstraint(
                condition=Q(disconnect_min_arrears__gte=0), name="payments_policy_min_arrears_nonneg"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.unit or _('默认')}"


OPEN_CASE = [
    "pending",
    "ordered",
    "disconnected",
    "reconnecting",
]  # DisconnectCaseStatus values of an open case


HOOK_CASE = [
    "pending",
    "ordered",
    "disconnected",
]  # a payment may change these (cancel or order reconnection)


class DunningNotice(models.Model):
    """One dunning notice (催费通知) to an account: reminder and overdue notices per bill, a disconnection notice
    per account with its planned date (and the state of that disconnection case), a reconnection notice."""

    stage = models.CharField(_("通知类型"), max_length=12, choices=DunningStage.choices)
    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="dunning_notices")
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="dunning_notices")
    # The bill reminded / overdue; for a disconnection notice, the oldest unpaid bill that triggered it.
    receivable = models.ForeignKey(
        Receivable, null=True, blank=True, on_delete=models.PROTECT, related_name="dunning_notices"
    )
    notice_date = models.DateField(_("通知日期"))
    arrears = models.DecimalField(_("欠费金额(元)"), default=0, **MONEY)
    planned_disconnect_on = models.DateField(_("计划停电日期"), null=True, blank=True)
    case_status = models.CharField(
        _("停电处理状态"), max_length=12, choices=DisconnectCaseStatus.choices, blank=True
    )
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)  # set by the notification outbox
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-notice_date", "-id"]
        constraints = [
            # Idempotent runs: one reminder and one overdue notice per bill, one open disconnection case per
            # account. A disconnection the manager refused is not asked again for the same triggering bill; a
            # cancelled (paid) or closed case may be followed by a new one for that bill once a payment bounces.
            models.UniqueConstraint(
                fields=["stage", "receivable"],
                condition=Q(stage__in=["reminder", "overdue"]),
                name="payments_notice_stage_receivable_uniq",
            ),
            models.UniqueConstraint(
                fields=["receivable"],
                condition=Q(stage="disconnect", case_status="rejected"),
                name="payments_notice_rejected_receivable_uniq",
            ),
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(stage="disconnect", case_status__in=OPEN_CASE),
                name="payments_notice_one_open_case_uniq",
            ),
        ]
        indexes = [
            models.Index(
                fields=["account"],
                condition=Q(stage="disconnect", case_status__in=HOOK_CASE),
                name="payments_notice_hook_idx",
            ),
            models.Index(fields=["account", "notice_date"]),
            models.Index(fields=["case_status", "planned_disconnect_on"], name="payments_notice_case_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.stage} {self.notice_date}"


class CollectionTask(models.Model):
    """A disconnection or reconnection order (停电/复电任务) until the service work-order app exists."""

    kind = models.CharField(_("任务类型"), max_length=12, choices=TaskKind.choices)
    status = models.CharField(_("状态"), max_length=20, choices=TaskStatus.choices)
    account = models.ForeignKey(
        "customers.Account", on_delete=models.PROTECT, related_name="collection_tasks"
    )
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="collection_tasks")
    notice = models.ForeignKey(DunningNotice, on_delete=models.PROTECT, related_name="tasks")
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    arrears = models.DecimalField(_("欠费金额(元)"), default=0, **MONEY)
    requires_approval = models.BooleanField(_("需经理审批"), default=False)
    approval_reason = models.CharField(_("审批原因"), max_length=100, blank=True)
    due_at = models.DateTimeField(_("应完成时间"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reject_reason = models.TextField(_("驳回原因"), blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    done_at = models.DateTimeField(_("执行时间"), null=True, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            # One live task of a kind per case: a reconnection cancelled by a bounced payment is followed by a
            # new one when the customer pays again.
            models.UniqueConstraint(
                fields=["notice", "kind"],
                condition=~Q(status="cancelled"),
                name="payments_task_notice_kind_uniq",
            ),
            models.UniqueConstraint(
                fields=["account", "kind"],
                condition=Q(status__in=["awaiting_approval", "open"]),
                name="payments_task_one_open_per_account_uniq",
            ),
        ]
        indexes = [
            models.Index(fields=["unit", "status", "due_at"]),
            models.Index(fields=["account", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.account_id} {self.status}"
