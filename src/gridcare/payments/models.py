"""The account ledger (电费账), receivables per issued bill, payments and their allocations.

- `LedgerEntry`: one row per money event on an account; the balance is their sum (positive: owed;
  negative: credit). Nothing is updated or deleted: a reversal is a new entry.
- `Receivable` (应收): one per issued bill — principal, what has been paid of it, and the late fee charged
  and paid so far, with `fee_through`, the date up to which the late fee has been charged.
- `Payment`: unique per (channel, channel transaction id), so a duplicate notification finds the payment it
  already made. `unallocated` is what is left as credit after paying the account's debts.
- `Allocation`: how much of a payment went to a receivable's late fee and principal.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .choices import (
    AGENT_CHANNELS,
    DisconnectCaseStatus,
    DunningStage,
    EntryKind,
    PaymentChannel,
    PaymentStatus,
    PrepaidAlertState,
    RefundMethod,
    RefundStatus,
    ShiftStatus,
    TaskKind,
    TaskStatus,
)

MONEY = {"max_digits": 14, "decimal_places": 2}


class Payment(models.Model):
    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="payments")
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="payments")
    channel = models.CharField(_("缴费渠道"), max_length=16, choices=PaymentChannel.choices)
    channel_txn_id = models.CharField(_("渠道流水号"), max_length=64)
    amount = models.DecimalField(_("金额(元)"), **MONEY)
    unallocated = models.DecimalField(_("未分配(预存)金额"), **MONEY)
    paid_at = models.DateTimeField(_("缴费时间"))
    status = models.CharField(
        _("状态"), max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.POSTED
    )
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="payments_received",
    )
    reversed_at = models.DateTimeField(_("冲正时间"), null=True, blank=True)
    reversal_reason = models.TextField(_("冲正原因"), blank=True)
    # The cashier's shift a counter payment was taken in (收费班次); null for every other channel.
    shift = models.ForeignKey(
        "payments.CashierShift", null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
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
        indexes = [models.Index(fields=["account", "paid_at"])]

    def __str__(self) -> str:
        return f"{self.channel}:{self.channel_txn_id} {self.amount}"


class PaymentOrder(models.Model):
    """An online payment the customer started (portal, Alipay, WeChat): what the channel's notification must
    match (order number, amount) before a payment is recorded."""

    order_no = models.CharField(_("订单号"), max_length=32, unique=True)
    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="payment_orders")
    channel = models.CharField(_("缴费渠道"), max_length=16, choices=PaymentChannel.choices)
    amount = models.DecimalField(_("金额(元)"), **MONEY)
    status = models.CharField(_("状态"), max_length=10, default="created")  # created / paid / closed
    payment = models.OneToOneField(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="order"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="payment_orders",
    )
    created_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    # Orders started without logging in (query and pay by 户号, `public_pay`): the SHA-256 of the secret in
    # the payer's pay and receipt links (the secret itself is never stored), when the gateway stops taking
    # payment, and the wallet the payer chose while the sandbox gateway stands in for it.
    public_token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(_("支付截止时间"), null=True, blank=True)
    wallet = models.CharField(_("支付方式"), max_length=16, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_order_amount_positive")
        ]

    def __str__(self) -> str:
        return f"{self.order_no} {self.amount}"


class ReceivableQuerySet(models.QuerySet):
    def open(self):
        """Receivables not cancelled with principal, or a late fee already charged, still to pay."""
        return self.filter(cancelled_at__isnull=True).filter(
            Q(principal_paid__lt=models.F("principal"))
            | Q(fee_paid__lt=models.F("fee_charged") - models.F("fee_waived"))
        )


class Receivable(models.Model):
    bill = models.OneToOneField("billing.Bill", on_delete=models.PROTECT, related_name="receivable")
    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="receivables")
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="receivables")
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
    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="ledger_entries")
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="ledger_entries")
    kind = models.CharField(_("类型"), max_length=12, choices=EntryKind.choices)
    amount = models.DecimalField(_("金额(元)"), **MONEY)  # + owed by the customer, − credit
    bill = models.ForeignKey(
        "billing.Bill", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="entries"
    )
    occurred_on = models.DateField(_("发生日期"))
    note = models.CharField(_("说明"), max_length=200, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["account", "occurred_on", "id"]
        indexes = [models.Index(fields=["account", "occurred_on"])]

    def __str__(self) -> str:
        return f"{self.account_id} {self.kind} {self.amount}"


class FeeWaiver(models.Model):
    """A late-fee waiver (违约金减免): requested by one person, approved (or rejected) by a manager."""

    receivable = models.ForeignKey(Receivable, on_delete=models.PROTECT, related_name="waivers")
    amount = models.DecimalField(_("减免金额(元)"), **MONEY)
    reason = models.TextField(_("减免原因"))
    status = models.CharField(_("状态"), max_length=10, default="pending")  # pending / approved / rejected
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


# ---------------------------------------------------------------- bank withholding (代扣) and reconciliation (对账)


class WithholdingAgreement(models.Model):
    """A customer's bank withholding agreement (代扣协议): which bank account pays the account's bills."""

    account = models.ForeignKey(
        "customers.Account", on_delete=models.PROTECT, related_name="withholding_agreements"
    )
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="+")
    bank_code = models.CharField(_("银行代码"), max_length=8)
    bank_name = models.CharField(_("银行名称"), max_length=40)
    bank_account = models.CharField(_("银行账号"), max_length=19)  # personal data: shown masked
    holder_name = models.CharField(_("账户名"), max_length=40)
    active = models.BooleanField(_("有效"), default=True)
    signed_on = models.DateField(_("签约日期"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    deactivated_at = models.DateTimeField(_("解约时间"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(active=True),
                name="payments_withholding_one_active_per_account",
            ),
        ]
        indexes = [models.Index(fields=["bank_code", "active"])]

    def __str__(self) -> str:
        return f"{self.account_id} {self.bank_code}"


class WithholdingBatch(models.Model):
    """One debit file sent to a bank (代扣批次): its items, and what the bank's result file said."""

    batch_no = models.CharField(_("批次号"), max_length=32, unique=True)
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="+")
    bank_code = models.CharField(_("银行代码"), max_length=8)
    as_of = models.DateField(_("计费日期"))
    status = models.CharField(_("状态"), max_length=10, default="exported")  # exported / settled
    item_count = models.PositiveIntegerField(_("笔数"), default=0)
    total = models.DecimalField(_("总金额(元)"), default=0, **MONEY)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    settled_at = models.DateTimeField(_("回盘完成时间"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.batch_no


class WithholdingItem(models.Model):
    """One debit line of a batch: the account, the bank account and the amount asked for."""

    batch = models.ForeignKey(WithholdingBatch, on_delete=models.PROTECT, related_name="items")
    serial = models.PositiveIntegerField(_("序号"))
    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="+")
    agreement = models.ForeignKey(WithholdingAgreement, on_delete=models.PROTECT, related_name="items")
    bank_account = models.CharField(_("银行账号"), max_length=19)
    holder_name = models.CharField(_("账户名"), max_length=40)
    amount = models.DecimalField(_("金额(元)"), **MONEY)
    status = models.CharField(_("状态"), max_length=10, default="pending")  # pending / debited / failed
    result_code = models.CharField(_("银行返回码"), max_length=8, blank=True)
    result_message = models.CharField(_("银行返回信息"), max_length=100, blank=True)
    payment = models.OneToOneField(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["batch", "serial"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "serial"], name="payments_withholding_item_serial_uniq"),
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="payments_withholding_item_amount_positive"
            ),
        ]
        indexes = [models.Index(fields=["account", "status"])]

    def __str__(self) -> str:
        return f"{self.batch_id}#{self.serial}"


class StatementImport(models.Model):
    """A channel's daily statement (对账单) imported for reconciliation; a corrected file supersedes it."""

    channel = models.CharField(_("缴费渠道"), max_length=16, choices=PaymentChannel.choices)
    statement_date = models.DateField(_("对账日期"))
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="+")
    file_hash = models.CharField(max_length=64)
    file_name = models.CharField(_("文件名"), max_length=200, blank=True)
    status = models.CharField(_("状态"), max_length=12, default="current")  # current / superseded
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

    statement = models.ForeignKey(StatementImport, on_delete=models.PROTECT, related_name="exceptions")
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(
        _("差错类型"), max_length=16
    )  # ours_only / theirs_only / amount_differs / reversed_paid / account_differs
    channel_txn_id = models.CharField(_("渠道流水号"), max_length=64)
    order_no = models.CharField(_("商户订单号"), max_length=64, blank=True)
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(PaymentOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    our_amount = models.DecimalField(_("我方金额"), null=True, blank=True, **MONEY)
    their_amount = models.DecimalField(_("渠道金额"), null=True, blank=True, **MONEY)
    their_time = models.DateTimeField(_("渠道交易时间"), null=True, blank=True)
    row_number = models.PositiveIntegerField(_("对账单行号"), null=True, blank=True)
    status = models.CharField(_("状态"), max_length=12, default="open")  # open / resolved / superseded
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


# ---------------------------------------------------------------- prepaid accounts (预存 / 智能交费)


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


# ---------------------------------------------------------------- counter shifts, refunds, terminals


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

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_refund_amount_positive")
        ]
        indexes = [models.Index(fields=["unit", "status"])]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount} {self.status}"


class RefundPart(models.Model):  # noqa: DJ008
    refund = models.ForeignKey(Refund, on_delete=models.PROTECT, related_name="parts")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refund_parts")
    amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["id"]


class Terminal(models.Model):
    """A self-service payment terminal (自助缴费终端). Only its Ed25519 public key is stored."""

    code = models.CharField(_("终端编号"), max_length=20, unique=True)
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="terminals")
    name = models.CharField(_("名称/位置"), max_length=100, blank=True)
    public_key = models.TextField(_("公钥(PEM)"))
    enabled = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class TerminalNonce(models.Model):  # noqa: DJ008
    """Nonces of accepted terminal requests, kept for the timestamp window so that a replay is refused."""

    terminal = models.ForeignKey(Terminal, on_delete=models.CASCADE, related_name="nonces")
    nonce = models.CharField(max_length=64)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["terminal", "nonce"], name="payments_terminal_nonce_uniq")
        ]
        indexes = [models.Index(fields=["seen_at"])]


class CollectionAgent(models.Model):
    """A collection agent (代收机构): a 代收点 or a 电话银行 that posts signed payments and settles daily by file.

    Only its Ed25519 public key is stored; its kind is the channel of its payments (`payments.agents`)."""

    code = models.CharField(_("机构编号"), max_length=20, unique=True)
    name = models.CharField(_("机构名称"), max_length=100)
    kind = models.CharField(
        _("渠道类型"), max_length=16, choices=[(c.value, c.label) for c in AGENT_CHANNELS]
    )
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="collection_agents")
    public_key = models.TextField(_("公钥(PEM)"))
    enabled = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class AgentNonce(models.Model):  # noqa: DJ008
    """Nonces of accepted collection-agent requests, kept for the timestamp window (as `TerminalNonce`)."""

    agent = models.ForeignKey(CollectionAgent, on_delete=models.CASCADE, related_name="nonces")
    nonce = models.CharField(max_length=64)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agent", "nonce"], name="payments_agent_nonce_uniq")]
        indexes = [models.Index(fields=["seen_at"])]


# ---------------------------------------------------------------- collections (催费): issue 4 §6, SPEC C3


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
