"""Choices of the 95598 service app (SPEC C4, issue 15): order types and sub-types, channels, steps, priorities,
callback satisfaction, triage outcomes, deadline units, knowledge-base and chat states."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OrderType(models.TextChoices):
    FAULT = "fault", _("故障报修")
    COMPLAINT = "complaint", _("投诉")
    REPORT = "report", _("举报")
    OPINION = "opinion", _("意见/建议")
    CONSULTATION = "consultation", _("咨询/查询")
    PRAISE = "praise", _("表扬")
    SERVICE_REQUEST = "service_request", _("服务申请")


class ServiceRequestSubType(models.TextChoices):
    RECONNECTION = "reconnection", _("复电")
    METER_CHECK = "meter_check", _("电能表异常")
    READING_DATA = "reading_data", _("抄表数据异常")
    OTHER = "other", _("其他服务申请")


class ComplaintSubType(models.TextChoices):
    SERVICE = "service", _("服务")
    BUSINESS = "business", _("营业")
    OUTAGE = "outage", _("停送电")
    QUALITY = "quality", _("供电质量")
    CONSTRUCTION = "construction", _("电网建设")


# Every sub-type of every type, for one choices list on the model (the rules say which type takes which).
SUB_TYPES: dict[str, type[models.TextChoices]] = {
    OrderType.SERVICE_REQUEST: ServiceRequestSubType,
    OrderType.COMPLAINT: ComplaintSubType,
}
SUB_TYPE_CHOICES = [*ServiceRequestSubType.choices, *ComplaintSubType.choices]


class AreaKind(models.TextChoices):
    """The commitment's area (城区 / 农村 / 特殊边远), not the reliability area groups."""

    URBAN = "urban", _("城区")
    RURAL = "rural", _("农村")
    REMOTE = "remote", _("特殊边远地区")


class OrderChannel(models.TextChoices):
    PHONE = "phone", _("95598电话")
    WEB = "web", _("网站")
    PORTAL = "portal", _("网上国网/微信")
    CHAT = "chat", _("在线客服")
    HALL = "hall", _("营业厅")
    SITE = "site", _("现场")
    LETTER = "letter", _("信函")


class Step(models.TextChoices):
    """Every step of every type's lifecycle (lifecycle.py says which type goes through which), plus merged."""

    CREATED = "created", _("已受理登记")
    ACCEPTED = "accepted", _("已接单")
    DISPATCHED = "dispatched", _("已派工")
    DEPARTED = "departed", _("已出发")
    ARRIVED = "arrived", _("已到达现场")
    RESTORED = "restored", _("已恢复送电")
    ASSIGNED = "assigned", _("已派单")
    CONTACTED = "contacted", _("已联系客户")
    REPLIED = "replied", _("已答复")
    COMPLETED = "completed", _("已办结")
    ANSWERED = "answered", _("已解答")
    CALLBACK = "callback", _("已回访")
    CLOSED = "closed", _("已归档")
    MERGED = "merged", _("已合并")


class Priority(models.IntegerChoices):
    NORMAL = 1, _("一般")
    HIGH = 2, _("紧急")
    URGENT = 3, _("特急")


class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", _("满意")
    BASIC = "basic", _("基本满意")
    UNSATISFIED = "unsatisfied", _("不满意")


class Triage(models.TextChoices):
    DISPATCH = "dispatch", _("派发抢修")
    OUTAGE = "outage", _("已知停电")
    ARREARS = "arrears", _("欠费停电")


class DeadlineUnit(models.TextChoices):
    MINUTES = "minutes", _("分钟")
    HOURS = "hours", _("小时")
    WORKING_DAYS = "working_days", _("工作日")


class DeadlineBasis(models.TextChoices):
    """What a deadline counts from."""

    RECEIVED = "received", _("受理时间")
    ARRIVED = "arrived", _("到达现场时间")
    RESOLVED = "resolved", _("处理完成时间")


class DeadlineName(models.TextChoices):
    ARRIVAL = "arrival", _("到达现场")
    RESTORATION = "restoration", _("恢复送电")
    CONTACT = "contact", _("联系客户")
    REPLY = "reply", _("答复客户")
    COMPLETE = "complete", _("办结")
    CALLBACK = "callback", _("回访")


# The order deadlines come in (the contract of POST /work-orders/deadlines); callback last.
DEADLINE_ORDER = ["arrival", "restoration", "contact", "reply", "complete", "callback"]


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PENDING = "pending", _("待审核")
    APPROVED = "approved", _("已发布")
    REJECTED = "rejected", _("已退回")
    RETIRED = "retired", _("已停用")


class ChatStatus(models.TextChoices):
    WAITING = "waiting", _("排队中")
    ACTIVE = "active", _("会话中")
    CLOSED = "closed", _("已结束")


class ChatSender(models.TextChoices):
    CUSTOMER = "customer", _("客户")
    AGENT = "agent", _("坐席")
    SYSTEM = "system", _("系统")
