"""Status and kind values of meter reads."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ReadSource(models.TextChoices):
    """Where a register reading came from."""

    MANUAL = "manual", _("人工抄表")
    AMI = "ami", _("用电信息采集")
    ESTIMATED = "estimated", _("估算")
    EXCHANGE_FINAL = "exchange_final", _("换表拆表示数")
    EXCHANGE_INITIAL = "exchange_initial", _("换表装表示数")


class ReadStatus(models.TextChoices):
    """Where a read stands in validation: flagged reads wait in the exceptions queue."""

    VALID = "valid", _("正常")
    FLAGGED = "flagged", _("待处理异常")
    ACCEPTED = "accepted", _("已确认")
    CORRECTED = "corrected", _("已更正")
    ESTIMATED = "estimated", _("估算")


# Reads that count as history for averages and estimates (a flagged read is not trusted yet).
TRUSTED_STATUSES = (ReadStatus.VALID, ReadStatus.ACCEPTED, ReadStatus.CORRECTED, ReadStatus.ESTIMATED)
