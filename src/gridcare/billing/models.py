"""Tariff catalogue: tariffs and their effective-dated versions (prices as validated JSON)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from gridcare.customers.choices import CustomerClass

from .choices import TariffKind


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
