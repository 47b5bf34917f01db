"""Models of channel statement reconciliation (对账): an imported statement and its exceptions."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gridcare.payments.channels.models import PaymentOrder
from gridcare.payments.choices import (
    ExceptionStatus,
    PaymentChannel,
    StatementStatus,
)
from gridcare.payments.ledger.models import MONEY, Payment


class StatementImport(models.Model):
    """A channel's daily statement (对账单) imported for reconciliation; a corrected file supersedes it."""

    channel = models.CharField(_("缴费渠道"), max_length=16, choices=PaymentChannel.choices)
    statement_date = models.DateField(_("对账日期"))
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="+")
    file_hash = models.CharField(max_length=64)
    file_name = models.CharField(_("文件名"), max_length=200, blank=True)
    status = models.CharField(
        _("状态"), max_length=12, choices=StatementStatus.choices, default=StatementStatus.CURRENT
    )
    row_count = models.PositiveIntegerField(_("对账单笔数"), default=0)
    total = models.DecimalField(_("对账单金额(元)"), default=0, **MONEY)
    matched_count = models.PositiveIntegerField(_("对平笔数"), default=0)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    # A collection agent's settlement file (代收对账文件): one statement a day per agent, not per unit.
    agent = models.ForeignKey(
        "payments.CollectionAgent", null=True, blank=True, on_delete=models.PROTECT, related_name="statements"
    )

    class Meta:
        ordering = ["-statement_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "statement_date", "unit", "file_hash"],
                condition=Q(agent__isnull=True),
                name="payments_statement_file_uniq",
            ),
            models.UniqueConstraint(
                fields=["channel", "statement_date", "unit"],
                condition=Q(status="current", agent__isnull=True),
                name="payments_statement_one_current",
            ),
            models.UniqueConstraint(
                fields=["agent", "statement_date", "file_hash"],
                condition=Q(agent__isnull=False),
                name="payments_statement_agent_file_uniq",
            ),
            models.UniqueConstraint(
                fields=["agent", "statement_date"],
                condition=Q(status="current", agent__isnull=False),
                name="payments_statement_agent_one_current",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.statement_date}"


class ReconciliationException(models.Model):
    """A difference between a channel's statement and our payments (对账差错), resolved by a cashier."""

    # None: raised by a channel's notification or a query answer, not by a statement (issue 13 §2).
    statement = models.ForeignKey(
        StatementImport, null=True, blank=True, on_delete=models.PROTECT, related_name="exceptions"
    )
    source = models.CharField(_("来源"), max_length=12, default="statement")  # statement, notification, query
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(
        _("差错类型"), max_length=16
    )  # ours_only / theirs_only / amount_differs / reversed_paid / account_differs / paid_closed
    channel_txn_id = models.CharField(_("渠道流水号"), max_length=64)
    order_no = models.CharField(_("商户订单号"), max_length=64, blank=True)
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(PaymentOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    our_amount = models.DecimalField(_("我方金额"), null=True, blank=True, **MONEY)
    their_amount = models.DecimalField(_("渠道金额"), null=True, blank=True, **MONEY)
    their_time = models.DateTimeField(_("渠道交易时间"), null=True, blank=True)
    row_number = models.PositiveIntegerField(_("对账单行号"), null=True, blank=True)
    status = models.CharField(
        _("状态"), max_length=12, choices=ExceptionStatus.choices, default=ExceptionStatus.OPEN
    )
    note = models.TextField(_("处理说明"), blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    backfill_payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Agents' settlement files name the 户号: as written (`account_number`), and the account when it is one
    # of ours within the agent's units (`account`, what 补录 pays).
    account_number = models.CharField(_("户号"), max_length=10, blank=True)
    account = models.ForeignKey(
        "customers.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["statement", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.channel_txn_id}"

    @property
    def can_backfill(self) -> bool:
        """补录 applies to an open "theirs only" row whose 商户订单号 is one of our orders, or (a collection
        agent's file) whose 户号 is one of ours within the agent's units."""
        return (
            self.status == "open"
            and self.kind == "theirs_only"
            and (self.order_id is not None or self.account_id is not None)
        )
