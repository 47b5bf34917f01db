"""Tariff catalogue: tariffs and their effective-dated versions (prices as validated JSON)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from gridcare.customers.choices import CustomerClass

from .choices import BillingExceptionReason, BillingRunStatus, BillStatus, TariffKind


class Tariff(models.Model):
    """A tariff of the catalogue, referred to by code from accounts and service points."""

    code = models.CharField(_("电价代码"), max_length=32, unique=True)
    name = models.CharField(_("电价名称"), max_length=100)
    kind = models.CharField(_("电价类型"), max_length=32, choices=TariffKind.choices)
    customer_class = models.CharField(_("用电类别"), max_length=20, choices=CustomerClass.choices)
    description = models.TextField(_("说明"), blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("电价")
        verbose_name_plural = _("电价")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class TariffVersion(models.Model):
    """Prices of a tariff valid from `valid_from` to `valid_to` (both inclusive; open when null).

    `parameters` holds decimal strings, validated by `gridcare.billing.rating.parse_params`.
    """

    tariff = models.ForeignKey(
        Tariff, on_delete=models.PROTECT, related_name="versions", verbose_name=_("电价")
    )
    valid_from = models.DateField(_("生效日期"))
    valid_to = models.DateField(_("失效日期（含）"), null=True, blank=True)
    parameters = models.JSONField(_("电价参数"), default=dict)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        ordering = ["tariff", "valid_from"]
        verbose_name = _("电价版本")
        verbose_name_plural = _("电价版本")
        constraints = [
            models.UniqueConstraint(
                fields=["tariff", "valid_from"], name="billing_tariffversion_unique_start"
            ),
            models.CheckConstraint(
                condition=models.Q(valid_to__isnull=True) | models.Q(valid_to__gte=models.F("valid_from")),
                name="billing_tariffversion_valid_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tariff.code} {self.valid_from}–{self.valid_to or '…'}"


# ---------------------------------------------------------------- billing runs and bills


class BillingRun(models.Model):
    """One month's billing (电费发行批次) of a route, or of every route of a unit when `route` is null."""

    period = models.CharField(_("账期"), max_length=7)
    period_start = models.DateField(_("账期开始"))
    period_end = models.DateField(_("账期结束"))
    route = models.ForeignKey(
        "metering.Route", null=True, blank=True, on_delete=models.PROTECT, related_name="billing_runs"
    )
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="billing_runs")
    status = models.CharField(
        _("状态"), max_length=10, choices=BillingRunStatus.choices, default=BillingRunStatus.PENDING
    )
    total_count = models.PositiveIntegerField(_("户数"), default=0)
    processed_count = models.PositiveIntegerField(_("已处理"), default=0)
    billed_count = models.PositiveIntegerField(_("已出账"), default=0)
    exception_count = models.PositiveIntegerField(_("异常"), default=0)
    # Accounts on the routes that were not supplied in the period (closed before it or opened after it).
    skipped_count = models.PositiveIntegerField(_("本期未用电"), default=0)
    # Accounts are walked in id order; everything up to this id is committed (resume point).
    last_account_id = models.BigIntegerField(default=0)
    # The current execution's plan (`BillingRunChunk` rows): chunks done of the total, counted atomically by
    # the chunk tasks; the one that brings `chunks_done` to `chunks_total` ends the run and its job.
    chunks_total = models.PositiveIntegerField(_("分块数"), default=0)
    chunks_done = models.PositiveIntegerField(_("已完成分块"), default=0)
    job = models.ForeignKey(
        "jobs.Job",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("后台任务"),
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="billing_runs",
    )

    class Meta:
        ordering = ["-period", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["period", "route"],
                condition=models.Q(route__isnull=False),
                name="billing_run_one_per_route_period",
            ),
            models.UniqueConstraint(
                fields=["period", "unit"],
                condition=models.Q(route__isnull=True),
                name="billing_run_one_per_unit_period",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.route_id or self.unit_id}"

    @property
    def is_active(self) -> bool:
        return self.status in (BillingRunStatus.PENDING, BillingRunStatus.RUNNING)

    @property
    def percent(self) -> int:
        return 100 if not self.total_count else min(100, self.processed_count * 100 // self.total_count)


class Bill(models.Model):
    """An account's electricity bill for one billing month; at most one that is not cancelled."""

    # A run writes a million bills and 1.6 million lines. No single-column indexes on account and run: the
    # (account, period_start) and (run, status) indexes lead with them. The references of bills and lines are
    # checked by set-based triggers (migration 0006: one anti-join per statement) instead of per-row foreign
    # keys, whose row locks cost 4–10 s per reference at a million rows (measured; see README Performance).
    account = models.ForeignKey(
        "customers.Account",
        on_delete=models.PROTECT,
        related_name="bills",
        db_index=False,
        db_constraint=False,
    )
    unit = models.ForeignKey(
        "org.SupplyUnit", on_delete=models.PROTECT, related_name="bills", db_constraint=False
    )
    period_start = models.DateField(_("账期开始"))
    period_end = models.DateField(_("账期结束"))
    run = models.ForeignKey(
        BillingRun,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bills",
        db_index=False,
        db_constraint=False,
    )
    tariff_code = models.CharField(_("电价代码"), max_length=32)
    kwh_total = models.DecimalField(_("总电量(kWh)"), max_digits=16, decimal_places=2)
    kwh_sharp = models.DecimalField(_("尖峰电量"), max_digits=16, decimal_places=2, null=True, blank=True)
    kwh_peak = models.DecimalField(_("高峰电量"), max_digits=16, decimal_places=2, null=True, blank=True)
    kwh_flat = models.DecimalField(_("平段电量"), max_digits=16, decimal_places=2, null=True, blank=True)
    kwh_valley = models.DecimalField(_("低谷电量"), max_digits=16, decimal_places=2, null=True, blank=True)
    kvarh = models.DecimalField(_("无功电量(kvarh)"), max_digits=16, decimal_places=2, null=True, blank=True)
    max_demand_kw = models.DecimalField(
        _("最大需量(kW)"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    power_factor = models.DecimalField(_("功率因数"), max_digits=3, decimal_places=2, null=True, blank=True)
    ytd_kwh_before = models.DecimalField(_("年度此前累计电量"), max_digits=16, decimal_places=2, default=0)
    estimated = models.BooleanField(_("含估算电量"), default=False)
    amount = models.DecimalField(_("应收电费(元)"), max_digits=12, decimal_places=2)
    status = models.CharField(_("状态"), max_length=10, choices=BillStatus.choices, default=BillStatus.DRAFT)
    due_date = models.DateField(_("缴费截止日"), null=True, blank=True)
    issued_at = models.DateTimeField(_("发行时间"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("作废时间"), null=True, blank=True)
    cancel_reason = models.TextField(_("作废原因"), blank=True)
    corrects = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections", db_index=False
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-period_start", "account_id", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "period_start"],
                condition=~models.Q(status="cancelled"),
                name="billing_bill_one_per_account_period",
            )
        ]
        indexes = [
            models.Index(fields=["account", "period_start"]),
            models.Index(fields=["run", "status"]),
            # Few bills correct another: index only those.
            models.Index(
                fields=["corrects"],
                condition=models.Q(corrects__isnull=False),
                name="billing_bill_corrects_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.period_start:%Y-%m} {self.amount}"


class BillLine(models.Model):
    """One charge line of a bill, as the rating engine produced it."""

    # Indexed by the (bill, seq) unique constraint; the reference is checked by a set-based trigger (see Bill).
    bill = models.ForeignKey(
        Bill, on_delete=models.CASCADE, related_name="lines", db_index=False, db_constraint=False
    )
    seq = models.PositiveSmallIntegerField()
    code = models.CharField(max_length=40)
    label = models.CharField(max_length=100)
    quantity = models.DecimalField(max_digits=16, decimal_places=4)
    unit_price = models.DecimalField(max_digits=14, decimal_places=6)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    part_start = models.DateField()
    part_end = models.DateField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["bill", "seq"]
        constraints = [models.UniqueConstraint(fields=["bill", "seq"], name="billing_billline_bill_seq_uniq")]

    def __str__(self) -> str:
        return f"{self.bill_id}#{self.seq} {self.code} {self.amount}"


class BillingException(models.Model):
    """An account a run could not bill, and why (left for a billing clerk)."""

    run = models.ForeignKey(BillingRun, on_delete=models.CASCADE, related_name="exceptions")
    account = models.ForeignKey(
        "customers.Account", on_delete=models.PROTECT, related_name="billing_exceptions"
    )
    reason = models.CharField(_("原因"), max_length=20, choices=BillingExceptionReason.choices)
    message = models.TextField(_("说明"), blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["run", "account_id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "account"], name="billing_exception_run_account_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.run_id}: {self.account_id} {self.reason}"


class Invoice(models.Model):
    """The electronic invoice (电子发票, 增值税普通发票) of a fully paid bill: one per bill, frozen at issue."""

    bill = models.OneToOneField(Bill, on_delete=models.PROTECT, related_name="invoice")
    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="invoices")
    backend = models.CharField(_("开票服务"), max_length=40)
    is_demo = models.BooleanField(_("演示发票"), default=True)
    invoice_code = models.CharField(_("发票代码"), max_length=12)
    invoice_number = models.CharField(_("发票号码"), max_length=20)
    check_code = models.CharField(_("校验码"), max_length=20, blank=True)
    issued_on = models.DateField(_("开票日期"))
    buyer_name = models.CharField(_("购买方名称"), max_length=100)
    buyer_tax_id = models.CharField(_("购买方纳税人识别号"), max_length=20, blank=True)  # blank: a person
    seller_name = models.CharField(_("销售方名称"), max_length=100)
    seller_tax_id = models.CharField(_("销售方纳税人识别号"), max_length=20)
    seller_address = models.CharField(_("销售方地址、电话"), max_length=200, blank=True)
    seller_bank = models.CharField(_("销售方开户行及账号"), max_length=200, blank=True)
    item_name = models.CharField(_("货物或应税劳务、服务名称"), max_length=100)
    quantity = models.DecimalField(_("数量(kWh)"), max_digits=16, decimal_places=2)
    unit_price = models.DecimalField(
        _("单价(不含税)"), max_digits=20, decimal_places=8, null=True, blank=True
    )
    amount = models.DecimalField(_("金额(不含税)"), max_digits=14, decimal_places=2)
    tax_rate = models.DecimalField(_("税率"), max_digits=4, decimal_places=2)
    tax_amount = models.DecimalField(_("税额"), max_digits=14, decimal_places=2)
    total = models.DecimalField(_("价税合计"), max_digits=14, decimal_places=2)
    issuer = models.CharField(_("开票人"), max_length=40)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-issued_on", "-id"]
        verbose_name = _("电子发票")
        verbose_name_plural = _("电子发票")
        constraints = [
            models.UniqueConstraint(
                fields=["invoice_code", "invoice_number"], name="billing_invoice_code_number_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_code}-{self.invoice_number}"


class BillingRunLease(models.Model):
    """Who executes a billing run right now (issue 11 §4, `gridcare.billing.leases`): one row per executing
    run, with the run's scope (its unit's path, and its route for a route run) and period, so a run whose
    accounts overlap it is refused; `expires_at` is pushed forward after every chunk, so the lease of an
    executor that died lapses on its own."""

    run = models.OneToOneField(BillingRun, on_delete=models.CASCADE, related_name="lease")
    period = models.CharField(max_length=7)
    path = models.CharField(max_length=255)  # the unit path of the run (a route run: its route's unit)
    route = models.ForeignKey(
        "metering.Route", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    holder = models.CharField(max_length=120)  # host:pid:random of the executing process
    acquired_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["period", "expires_at"], name="billing_lease_period_idx")]

    def __str__(self) -> str:
        return f"{self.run_id} {self.holder}"


class BillingRunChunk(models.Model):
    """One chunk of a run's current execution plan (`gridcare.billing.runs`): the accounts of the run's scope
    with ids in [first_account_id, last_account_id]. A chunk task bills them and sets `done` in the same
    transaction, under this row's lock, so a chunk delivered twice (a worker killed mid-way) counts once."""

    run = models.ForeignKey(BillingRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    first_account_id = models.BigIntegerField()
    last_account_id = models.BigIntegerField()
    size = models.PositiveIntegerField()
    done = models.BooleanField(default=False)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="billing_run_chunk_unique")]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.index}"
