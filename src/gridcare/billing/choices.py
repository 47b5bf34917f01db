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


class BillingRunStatus(models.TextChoices):
    """Where a billing run stands; a failed or interrupted run continues from its checkpoint."""

    PENDING = "pending", _("待执行")
    RUNNING = "running", _("执行中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")


class BillStatus(models.TextChoices):
    """A bill's life: draft after the run, issued to the customer, or cancelled (and re-billed)."""

    DRAFT = "draft", _("草稿")
    ISSUED = "issued", _("已发行")
    CANCELLED = "cancelled", _("已作废")


class BillingExceptionReason(models.TextChoices):
    """Why a run could not bill an account."""

    NO_READ = "no_read", _("本期无抄表电量")
    UNKNOWN_TARIFF = "unknown_tariff", _("电价代码未知")
    UNVALIDATED_READ = "unvalidated_read", _("存在待处理的异常示数")
    METER_DATA = "meter_data", _("缺少计费所需的计量数据")
    RATING_ERROR = "rating_error", _("计费失败")
