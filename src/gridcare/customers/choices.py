from django.db import models
from django.utils.translation import gettext_lazy as _


class CustomerKind(models.TextChoices):
    PERSON = "person", _("个人")
    ORGANISATION = "organisation", _("单位")


class CustomerClass(models.TextChoices):
    """用电类别."""

    RESIDENTIAL = "residential", _("居民生活")
    COMMERCIAL = "commercial", _("一般工商业")
    LARGE_INDUSTRY = "large_industry", _("大工业")
    AGRICULTURAL = "agricultural", _("农业生产")


class Segment(models.TextChoices):
    """客户分群."""

    IMPORTANT = "important", _("重要客户")
    LARGE = "large", _("大客户")
    SME = "sme", _("中小客户")
    HOUSEHOLD = "household", _("居民")


class AreaType(models.TextChoices):
    CENTRE = "centre", _("市中心")
    URBAN = "urban", _("城区")
    RURAL = "rural", _("农村")
    REMOTE = "remote", _("特殊边远")


class VoltageLevel(models.TextChoices):
    V220 = "220V", "220V"
    V380 = "380V", "380V"
    KV10 = "10kV", "10kV"
    KV35 = "35kV", "35kV"
    KV110 = "110kV", "110kV"


class AccountStatus(models.TextChoices):
    ACTIVE = "active", _("正常")
    CLOSED = "closed", _("已销户")


class HoldingReason(models.TextChoices):
    MOVE_IN = "move_in", _("立户")
    TRANSFER = "transfer", _("过户")
