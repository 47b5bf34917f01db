"""Outages and supply reliability (SPEC C5, issue 14).

An `OutageEvent` is what the dispatcher plans or enters; its `OutageScope` rows are what was chosen (feeders
and/or transformer areas). When the event is frozen (published, or entered for a fault), the affected accounts
are derived from topology and written down: one `OutageArea` per transformer area, one `AffectedAccount` per
account, and `Interruption` rows — groups of one area's customers sharing a start and an end — which are what
the indices read (per-event aggregates). A later topology change rewrites none of it. Partial restoration
splits an open group. See docs/outages.md."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .choices import (
    ActionStatus,
    AreaGroup,
    Basis,
    CauseCategory,
    ContactMethod,
    OutageKind,
    OutageSource,
    OutageStatus,
)


class OutageEvent(models.Model):
    """One outage (停电事件): planned, temporary maintenance, fault, external cause or curtailment."""

    number = models.CharField(_("停电编号"), max_length=32, unique=True)
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="outages")
    kind = models.CharField(_("停电类型"), max_length=12, choices=OutageKind.choices)
    cause_category = models.CharField(
        _("原因分类"), max_length=16, choices=CauseCategory.choices, default=CauseCategory.OTHER
    )
    status = models.CharField(
        _("状态"), max_length=12, choices=OutageStatus.choices, default=OutageStatus.DRAFT
    )
    title = models.CharField(_("停电原因"), max_length=100)
    work_content = models.TextField(_("工作内容"), blank=True)
    planned_start = models.DateTimeField(_("计划停电时间"))
    planned_end = models.DateTimeField(_("预计送电时间"))
    actual_start = models.DateTimeField(_("实际停电时间"), null=True, blank=True)
    actual_end = models.DateTimeField(_("实际送电时间"), null=True, blank=True)
    frozen_at = models.DateTimeField(_("停电范围冻结时间"), null=True, blank=True)
    customers = models.PositiveIntegerField(_("停电户数"), default=0)
    mv_users = models.PositiveIntegerField(_("中压用户数"), default=0)
    est_customer_hours = models.DecimalField(
        _("预计停电时户数"), max_digits=14, decimal_places=2, default=Decimal("0")
    )
    version = models.PositiveIntegerField(_("通知版本"), default=1)
    budget_override_reason = models.TextField(_("超预算说明"), blank=True)
    merge_note = models.TextField(_("一停多用说明"), blank=True)
    reject_reason = models.TextField(_("退回原因"), blank=True)
    cancel_reason = models.TextField(_("取消原因"), blank=True)
    source = models.CharField(max_length=8, choices=OutageSource.choices, default=OutageSource.CONSOLE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-planned_start", "-id"]
        indexes = [
            models.Index(fields=["unit", "planned_start"]),
            models.Index(fields=["status", "planned_start"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(planned_end__gt=models.F("planned_start")), name="outage_planned_order"
            ),
            models.CheckConstraint(
                condition=models.Q(actual_end__isnull=True)
                | models.Q(actual_end__gte=models.F("actual_start")),
                name="outage_actual_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class OutageScope(models.Model):
    """What the planner chose: a whole feeder or one transformer area (exactly one of the two)."""

    event = models.ForeignKey(OutageEvent, on_delete=models.CASCADE, related_name="scopes")
    feeder = models.ForeignKey(
        "customers.Feeder", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    transformer_area = models.ForeignKey(
        "customers.TransformerArea", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(feeder__isnull=False) & models.Q(transformer_area__isnull=True))
                | (models.Q(feeder__isnull=True) & models.Q(transformer_area__isnull=False)),
                name="outage_scope_one_of",
            ),
            models.UniqueConstraint(fields=["event", "feeder"], name="outage_scope_feeder_once"),
            models.UniqueConstraint(fields=["event", "transformer_area"], name="outage_scope_area_once"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id}: {self.feeder_id or ''}{self.transformer_area_id or ''}"


class OutageArea(models.Model):
    """The frozen picture of one transformer area of an event: its feeder, unit and type then, its customers,
    its estimated and actual restoration (the end of its last open customer)."""

    event = models.ForeignKey(OutageEvent, on_delete=models.CASCADE, related_name="areas")
    transformer_area = models.ForeignKey(
        "customers.TransformerArea", on_delete=models.PROTECT, related_name="+"
    )
    feeder = models.ForeignKey("customers.Feeder", on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="+")
    area_type = models.CharField(max_length=8)
    area_name = models.CharField(max_length=100)
    customers = models.PositiveIntegerField(default=0)
    dedicated = models.PositiveIntegerField(default=0)
    est_restoration = models.DateTimeField()
    actual_end = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "transformer_area"], name="outage_area_once")]

    def __str__(self) -> str:
        return f"{self.event_id} {self.area_name}"


class Interruption(models.Model):
    """Customers of one area of one event sharing a start and an end: what the indices read. `day` is the
    start's China date (stored so SQLite and PostgreSQL group alike); `kind` is copied from the event."""

    event = models.ForeignKey(OutageEvent, on_delete=models.CASCADE, related_name="interruptions")
    area = models.ForeignKey(OutageArea, on_delete=models.CASCADE, related_name="interruptions")
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="+")
    area_type = models.CharField(max_length=8)
    kind = models.CharField(max_length=12, choices=OutageKind.choices)
    start = models.DateTimeField()
    end = models.DateTimeField(null=True, blank=True)
    day = models.DateField()
    duration_s = models.PositiveIntegerField(null=True, blank=True)
    customers = models.PositiveIntegerField()
    # Medium-voltage users: the area's public transformer (counted on its first group) + its dedicated users.
    mv_users = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["unit", "day"]), models.Index(fields=["day"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__isnull=True) | models.Q(end__gte=models.F("start")),
                name="interruption_order",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_id} {self.customers} @ {self.start:%Y-%m-%d %H:%M}"


class AffectedAccount(models.Model):
    """One account affected by an event, frozen with the interruption group it belongs to."""

    event = models.ForeignKey(OutageEvent, on_delete=models.CASCADE, related_name="affected")
    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="outages")
    interruption = models.ForeignKey(Interruption, on_delete=models.CASCADE, related_name="accounts")
    dedicated = models.BooleanField(default=False)
    important = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "account"], name="affected_account_once")]
        indexes = [models.Index(fields=["account", "event"])]

    def __str__(self) -> str:
        return f"{self.event_id} {self.account_id}"


class ImportantContact(models.Model):
    """An important customer told of an outage one by one (重要客户逐户告知), with the confirmation recorded."""

    event = models.ForeignKey(OutageEvent, on_delete=models.CASCADE, related_name="contacts")
    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="+")
    method = models.CharField(_("告知方式"), max_length=8, choices=ContactMethod.choices, blank=True)
    contacted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    contacted_at = models.DateTimeField(null=True, blank=True)
    confirmed_by_name = models.CharField(_("客户确认人"), max_length=50, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "account"], name="important_contact_once")]

    def __str__(self) -> str:
        return f"{self.event_id} {self.account_id}"


class PlannedBudget(models.Model):
    """A unit's yearly planned-outage budget (预安排停电指标) in customer-hours."""

    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField()
    customer_hours = models.DecimalField(max_digits=14, decimal_places=2)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["unit", "year"], name="planned_budget_once")]

    def __str__(self) -> str:
        return f"{self.unit_id} {self.year} {self.customer_hours}"


class ReliabilityTarget(models.Model):
    """A unit's yearly reliability target for an area group and basis (SPEC C5 defaults, editable)."""

    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField()
    area_group = models.CharField(max_length=8, choices=AreaGroup.choices, default=AreaGroup.ALL)
    basis = models.CharField(max_length=2, choices=Basis.choices, default=Basis.LV)
    saidi_hours_max = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    rs1_percent_min = models.DecimalField(max_digits=7, decimal_places=4, null=True, blank=True)
    saifi_max = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "year", "area_group", "basis"], name="reliability_target_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.unit_id} {self.year} {self.area_group} {self.basis}"


class FrequentOutageCase(models.Model):
    """An account on the frequent-outage list (频繁停电) with the action taken and its status."""

    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="+")
    first_day = models.DateField()
    last_day = models.DateField()
    count = models.PositiveIntegerField()
    action = models.TextField(_("整改措施"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=12, choices=ActionStatus.choices, default=ActionStatus.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "first_day"], name="frequent_case_once"),
            models.UniqueConstraint(
                fields=["account"],
                condition=models.Q(status__in=["open", "in_progress"]),
                name="frequent_case_one_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.first_day}..{self.last_day} ×{self.count}"


class TripAction(models.Model):
    """A remediation action on a feeder with many fault trips (故障跳闸专项治理)."""

    feeder = models.ForeignKey("customers.Feeder", on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="+")
    action = models.TextField(_("治理措施"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=12, choices=ActionStatus.choices, default=ActionStatus.OPEN)
    done_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.feeder_id} {self.action[:20]}"


class VoltageReading(models.Model):
    """One hourly voltage reading of a transformer area's monitoring point, or of one meter of the area."""

    transformer_area = models.ForeignKey(
        "customers.TransformerArea", on_delete=models.PROTECT, related_name="+"
    )
    meter = models.ForeignKey(
        "customers.Meter", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    hour = models.DateTimeField()
    nominal_v = models.DecimalField(max_digits=9, decimal_places=1)
    voltage_v = models.DecimalField(max_digits=9, decimal_places=1)

    class Meta:
        indexes = [models.Index(fields=["transformer_area", "hour"])]
        constraints = [
            models.UniqueConstraint(
                fields=["transformer_area", "hour"],
                condition=models.Q(meter__isnull=True),
                name="voltage_area_hour_once",
            ),
            models.UniqueConstraint(
                fields=["meter", "hour"],
                condition=models.Q(meter__isnull=False),
                name="voltage_meter_hour_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.transformer_area_id} {self.hour:%Y-%m-%d %H}h {self.voltage_v}"


class VoltageMonthly(models.Model):
    """Hours read and hours within limits per transformer area and month (电压合格率), what the pages read."""

    transformer_area = models.ForeignKey(
        "customers.TransformerArea", on_delete=models.PROTECT, related_name="+"
    )
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="+")
    month = models.DateField()
    hours_read = models.PositiveIntegerField()
    hours_ok = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["transformer_area", "month"], name="voltage_monthly_once")
        ]
        indexes = [models.Index(fields=["unit", "month"])]

    def __str__(self) -> str:
        return f"{self.transformer_area_id} {self.month:%Y-%m} {self.hours_ok}/{self.hours_read}"
