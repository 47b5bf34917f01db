"""Kinds of tariff in the catalogue."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class TariffKind(models.TextChoices):
    """How a tariff is built (which parameters its versions carry)."""

    RESIDENTIAL_TIER = "residential_tier", _("居民阶梯电价")
    RESIDENTIAL_TIER_TOU = "residential_tier_tou", _("居民阶梯分时电价")
    COMMERCIAL_FLAT = "commercial_flat", _("工商业单一电价")
    COMMERCIAL_TOU = "commercial_tou", _("工商业分时电价")
    LARGE_INDUSTRY_TWO_PART = "large_industry_two_part", _("大工业两部制电价")
    AGRICULTURAL_FLAT = "agricultural_flat", _("农业生产电价")
