"""Meter reading: reading routes (抄表段), their accounts in walking order, and register reads."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .choices import ReadSource, ReadStatus

REGISTER = {"max_digits": 14, "decimal_places": 2}


class Route(models.Model):
    """A reading route (抄表段): accounts one reader walks on the same reading day each month."""

    code = models.CharField(_("抄表段编号"), max_length=32, unique=True)
    name = models.CharField(_("抄表段名称"), max_length=100)
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="reading_routes")
    reading_day = models.PositiveSmallIntegerField(_("抄表例日"))
    reader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reading_routes",
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reading_day__gte=1, reading_day__lte=28), name="metering_route_reading_day_1_28"
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class RouteMembership(models.Model):
    """An account's place on its (single) route; `sequence` is the walking order."""

    account = models.OneToOneField(
        "customers.Account", on_delete=models.CASCADE, related_name="route_membership"
    )
    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="memberships")
    sequence = models.PositiveIntegerField(_("抄表顺序"))

    class Meta:
        ordering = ["route", "sequence", "id"]
        indexes = [models.Index(fields=["route", "sequence"])]

    def __str__(self) -> str:
        return f"{self.route_id}#{self.sequence}: {self.account_id}"


class MeterRead(models.Model):
    """One reading of a meter's registers (kWh) with its consumption since the meter's previous read."""

    meter = models.ForeignKey("customers.Meter", on_delete=models.PROTECT, related_name="reads")
    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="reads")
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="meter_reads")
    read_at = models.DateTimeField(_("抄表时间"))
    total = models.DecimalField(_("总示数"), **REGISTER)
    sharp = models.DecimalField(_("尖示数"), null=True, blank=True, **REGISTER)
    peak = models.DecimalField(_("峰示数"), null=True, blank=True, **REGISTER)
    flat = models.DecimalField(_("平示数"), null=True, blank=True, **REGISTER)
    valley = models.DecimalField(_("谷示数"), null=True, blank=True, **REGISTER)
    reactive = models.DecimalField(_("无功总示数(kvarh)"), null=True, blank=True, **REGISTER)
    max_demand = models.DecimalField(_("最大需量示数(kW)"), null=True, blank=True, **REGISTER)
    # kWh since the meter's previous read (multiplier and rollover applied); None for the first read.
    consumption = models.DecimalField(_("电量(kWh)"), max_digits=16, decimal_places=2, null=True, blank=True)
    # The same per TOU period (None when this read or the previous one has no TOU registers); they add up
    # to `consumption` exactly (see vee.derived), reactive energy, and the demand in kW (register × 倍率).
    kwh_sharp = models.DecimalField(_("尖电量"), max_digits=16, decimal_places=2, null=True, blank=True)
    kwh_peak = models.DecimalField(_("峰电量"), max_digits=16, decimal_places=2, null=True, blank=True)
    kwh_flat = models.DecimalField(_("平电量"), max_digits=16, decimal_places=2, null=True, blank=True)
    kwh_valley = models.DecimalField(_("谷电量"), max_digits=16, decimal_places=2, null=True, blank=True)
    kvarh = models.DecimalField(_("无功电量(kvarh)"), max_digits=16, decimal_places=2, null=True, blank=True)
    demand_kw = models.DecimalField(_("最大需量(kW)"), max_digits=16, decimal_places=2, null=True, blank=True)
    source = models.CharField(_("来源"), max_length=16, choices=ReadSource.choices, default=ReadSource.MANUAL)
    status = models.CharField(_("状态"), max_length=12, choices=ReadStatus.choices, default=ReadStatus.VALID)
    flags = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="meter_reads"
    )

    class Meta:
        ordering = ["meter", "read_at"]
        constraints = [
            models.UniqueConstraint(fields=["meter", "read_at"], name="metering_read_meter_read_at_uniq")
        ]
        indexes = [
            models.Index(fields=["account", "read_at"]),
            models.Index(fields=["status", "unit"]),
        ]

    def __str__(self) -> str:
        return f"{self.meter_id}@{self.read_at:%Y-%m-%d %H:%M}: {self.total}"
