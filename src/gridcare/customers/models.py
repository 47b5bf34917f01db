"""Customer registry: customers, accounts (户号), premises, service points, meters and grid topology."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .choices import (
    AccountStatus,
    AreaType,
    CustomerClass,
    CustomerKind,
    HoldingReason,
    Segment,
    VoltageLevel,
)


class Feeder(models.Model):
    """A distribution feeder (线路) leaving a substation."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="feeders")
    voltage_level = models.CharField(max_length=8, choices=VoltageLevel.choices, default=VoltageLevel.KV10)

    def __str__(self) -> str:
        return self.name


class TransformerArea(models.Model):
    """A transformer area (台区) fed by one feeder; its area type sets service commitments."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    feeder = models.ForeignKey(Feeder, on_delete=models.PROTECT, related_name="areas")
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="transformer_areas")
    area_type = models.CharField(max_length=8, choices=AreaType.choices)
    capacity_kva = models.DecimalField(max_digits=10, decimal_places=1, default=Decimal("400"))

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    """A person or an organisation that holds one or more accounts (客户档案)."""

    kind = models.CharField(_("客户类型"), max_length=16, choices=CustomerKind.choices)
    name = models.CharField(_("客户名称"), max_length=100, db_index=True)
    customer_class = models.CharField(_("用电类别"), max_length=16, choices=CustomerClass.choices)
    segment = models.CharField(_("客户分群"), max_length=16, choices=Segment.choices)
    # Resident ID (18, with check digit) for persons, unified social credit code for organisations.
    id_number = models.CharField(_("证件号码"), max_length=18, db_index=True)
    phone = models.CharField(_("联系电话"), max_length=20, db_index=True)
    phone2 = models.CharField(_("备用电话"), max_length=20, blank=True)
    email = models.EmailField(_("电子邮箱"), blank=True)
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="customers")
    customer_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_customers",
    )
    notify_sms = models.BooleanField(_("短信通知"), default=True)
    notify_wechat = models.BooleanField(_("微信通知"), default=False)
    notify_email = models.BooleanField(_("邮件通知"), default=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["unit", "customer_class", "segment"])]

    def __str__(self) -> str:
        return self.name


class Premise(models.Model):
    """A place where electricity is used (用电地址)."""

    address = models.CharField(_("用电地址"), max_length=200)
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="premises")
    transformer_area = models.ForeignKey(TransformerArea, on_delete=models.PROTECT, related_name="premises")

    def __str__(self) -> str:
        return self.address


class Account(models.Model):
    """The billing account customers quote: 户号 (10 digits)."""

    account_number = models.CharField(_("户号"), max_length=10, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="accounts")
    premise = models.ForeignKey(Premise, on_delete=models.PROTECT, related_name="accounts")
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="accounts")
    status = models.CharField(max_length=8, choices=AccountStatus.choices, default=AccountStatus.ACTIVE)
    opened_on = models.DateField(_("立户日期"))
    closed_on = models.DateField(_("销户日期"), null=True, blank=True)
    # 保护用户 (medical equipment at home and the like): never disconnected without a manager's approval.
    protected = models.BooleanField(_("保护用户"), default=False, db_default=False)
    protected_reason = models.CharField(_("保护原因"), max_length=200, blank=True, db_default="")

    def __str__(self) -> str:
        return self.account_number


class AccountHolding(models.Model):
    """Who held an account from when to when: move-in and change of owner (过户) history, never overwritten."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="holdings")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="holdings")
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    reason = models.CharField(max_length=16, choices=HoldingReason.choices)

    class Meta:
        ordering = ["account", "valid_from"]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.customer_id} {self.valid_from}–{self.valid_to or ''}"


class ServicePoint(models.Model):
    """A metering point (计量点) at a premise: voltage level, contract capacity and tariff."""

    premise = models.ForeignKey(Premise, on_delete=models.PROTECT, related_name="service_points")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="service_points")
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="service_points")
    transformer_area = models.ForeignKey(
        TransformerArea, on_delete=models.PROTECT, related_name="service_points"
    )
    voltage_level = models.CharField(_("电压等级"), max_length=8, choices=VoltageLevel.choices)
    contract_capacity_kva = models.DecimalField(_("合同容量(kVA)"), max_digits=10, decimal_places=1)
    tariff_code = models.CharField(_("电价代码"), max_length=32, blank=True)
    # Two-part tariffs: the basic charge by contract capacity (kVA, the default) or by maximum demand (kW).
    basic_by_demand = models.BooleanField(_("基本电费按最大需量计收"), default=False, db_default=False)

    def __str__(self) -> str:
        return f"SP{self.pk}"


class Meter(models.Model):
    """An electricity meter (电能表) installed at a service point."""

    asset_number = models.CharField(_("资产编号"), max_length=24, unique=True)
    service_point = models.ForeignKey(
        ServicePoint, null=True, blank=True, on_delete=models.PROTECT, related_name="meters"
    )
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="meters")
    digits = models.PositiveSmallIntegerField(_("表位数"), default=6)
    multiplier = models.PositiveIntegerField(_("倍率"), default=1)
    has_tou = models.BooleanField(_("分时计量(尖峰平谷)"), default=False)
    installed_on = models.DateField(_("装表日期"))
    removed_on = models.DateField(_("拆表日期"), null=True, blank=True)

    def __str__(self) -> str:
        return self.asset_number

    @property
    def registers(self) -> list[str]:
        return ["total", "sharp", "peak", "flat", "valley"] if self.has_tou else ["total"]


class PortalBinding(models.Model):
    """A portal user's proven link to an account (绑定户号)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bindings")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="bindings")
    created_at = models.DateTimeField()

    class Meta:
        unique_together = [("user", "account")]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.account_id}"
