"""Choices of the outages app: the five outage kinds (which drive RS-2/RS-3), descriptive cause categories,
the event workflow, action status, the reliability bases and area groups."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OutageKind(models.TextChoices):
    PLANNED = "planned", _("计划检修")
    TEMPORARY = "temporary", _("临时检修")
    FAULT = "fault", _("故障停电")
    EXTERNAL = "external", _("外部影响")
    SHORTAGE = "shortage", _("限电")


# Kinds that are arranged in advance (预安排停电): approval workflow, notice time, the planned-outage budget.
PREARRANGED = frozenset({OutageKind.PLANNED, OutageKind.TEMPORARY})


class CauseCategory(models.TextChoices):
    """Descriptive only: no index reads it (the kind drives RS-2 and RS-3)."""

    MAINTENANCE = "maintenance", _("检修")
    CONSTRUCTION = "construction", _("工程施工")
    EQUIPMENT = "equipment", _("设备故障")
    WEATHER = "weather", _("恶劣天气")
    TYPHOON = "typhoon", _("台风")
    LIGHTNING = "lightning", _("雷击")
    TREE = "tree", _("树障")
    ANIMAL = "animal", _("小动物")
    THIRD_PARTY = "third_party", _("外力破坏")
    CUSTOMER = "customer", _("用户故障出门")
    UPSTREAM = "upstream", _("上级电网")
    GENERATION = "generation", _("电源不足")
    OTHER = "other", _("其他")


class OutageStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SUBMITTED = "submitted", _("待审批")
    APPROVED = "approved", _("已审批")
    REJECTED = "rejected", _("已退回")
    PUBLISHED = "published", _("已发布")
    IN_PROGRESS = "in_progress", _("停电中")
    RESTORED = "restored", _("已送电")
    CANCELLED = "cancelled", _("已取消")


class OutageSource(models.TextChoices):
    CONSOLE = "console", _("系统录入")
    IMPORT = "import", _("导入")
    DEMO = "demo", _("演示数据")


class ActionStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    IN_PROGRESS = "in_progress", _("处理中")
    DONE = "done", _("已完成")
    DROPPED = "dropped", _("已撤销")


OPEN_ACTION = frozenset({ActionStatus.OPEN, ActionStatus.IN_PROGRESS})


class ContactMethod(models.TextChoices):
    PHONE = "phone", _("电话")
    VISIT = "visit", _("上门")
    SMS = "sms", _("短信")
    WECHAT = "wechat", _("微信")


class Basis(models.TextChoices):
    """Low voltage: each account is one customer; medium voltage (DL/T 836 10 kV users): each public
    distribution transformer and each dedicated-transformer customer is one user."""

    LV = "lv", _("低压用户")
    MV = "mv", _("中压用户")


class AreaGroup(models.TextChoices):
    """Area types as the SPEC C5 targets read them: urban covers the city centre and urban areas (DL/T 836
    城市), rural covers rural and remote ones (农村)."""

    ALL = "all", _("全部")
    CENTRE = "centre", _("市中心")
    URBAN = "urban", _("城市")
    RURAL = "rural", _("农村")


AREA_GROUP_TYPES: dict[str, tuple[str, ...] | None] = {
    AreaGroup.ALL: None,
    AreaGroup.CENTRE: ("centre",),
    AreaGroup.URBAN: ("centre", "urban"),
    AreaGroup.RURAL: ("rural", "remote"),
}
