"""Kinds, channels and statuses of the notification outbox (SPEC C9)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    """What a notice is about; each kind has its zh-CN templates per channel."""

    BILL_ISSUED = "bill_issued", _("电费发行通知")
    DUE_REMINDER = "due_reminder", _("缴费提醒")
    OVERDUE = "overdue", _("欠费通知")
    DISCONNECT_NOTICE = "disconnect_notice", _("欠费停电预告")
    RECONNECTION = "reconnection", _("复电通知")
    PAYMENT_RECEIPT = "payment_receipt", _("缴费成功")
    REFUND = "refund", _("退费通知")
    LOW_BALANCE = "low_balance", _("余额不足提醒")
    OUTAGE = "outage", _("停电通知")
    OUTAGE_CHANGE = "outage_change", _("停电变更通知")
    OUTAGE_CANCEL = "outage_cancel", _("停电取消通知")
    OUTAGE_RESTORED = "outage_restored", _("恢复送电通知")
    EMERGENCY = "emergency", _("紧急通知")
    GREETING = "greeting", _("节日问候")
    SMS_CODE = "sms_code", _("短信验证码")
    WORKORDER_ACCEPTED = "workorder_accepted", _("工单受理通知")
    WORKORDER_DISPATCHED = "workorder_dispatched", _("抢修派工通知")
    WORKORDER_CLOSED = "workorder_closed", _("工单办结通知")
    WORKORDER_REOPENED = "workorder_reopened", _("工单重办通知")
    WORKORDER_ESCALATED = "workorder_escalated", _("工单超时督办")
    HALL_CALL_AHEAD = "hall_call_ahead", _("排队临近提醒")
    HALL_COME_IN = "hall_come_in", _("远程取号到号提醒")
    HALL_APPOINTMENT_BOOKED = "hall_appt_booked", _("营业厅预约成功")
    HALL_APPOINTMENT_CANCELLED = "hall_appt_cancelled", _("营业厅预约取消")
    CREDIT_MEASURE = "credit_measure", _("信用评价服务措施")
    CREDIT_GRADE_DROP = "credit_grade_drop", _("信用等级下降预警")


# Sent at once even inside the customer's quiet hours (a work order's acceptance and crew dispatch answer a
# request the customer has just made; an escalation goes to staff).
QUIET_HOURS_EXEMPT = frozenset(
    {
        Kind.OUTAGE,
        Kind.OUTAGE_CHANGE,
        Kind.OUTAGE_CANCEL,
        Kind.EMERGENCY,
        Kind.SMS_CODE,
        Kind.WORKORDER_ACCEPTED,
        Kind.WORKORDER_DISPATCHED,
        Kind.WORKORDER_ESCALATED,
        Kind.CREDIT_GRADE_DROP,
        Kind.HALL_CALL_AHEAD,
        Kind.HALL_COME_IN,
        Kind.HALL_APPOINTMENT_BOOKED,
        Kind.HALL_APPOINTMENT_CANCELLED,
    }
)
# Transactional: sent to a phone number (not necessarily a customer's), never delayed nor opted out
# (`notify.outbox.transactional_sms_enqueue`): verification codes, the work-order notices of a caller known only
# by a phone number, and escalations to supervisors.
TRANSACTIONAL_KINDS = frozenset(
    {
        Kind.SMS_CODE,
        Kind.WORKORDER_ACCEPTED,
        Kind.WORKORDER_DISPATCHED,
        Kind.WORKORDER_CLOSED,
        Kind.WORKORDER_REOPENED,
        Kind.WORKORDER_ESCALATED,
        Kind.HALL_CALL_AHEAD,
        Kind.HALL_COME_IN,
        Kind.HALL_APPOINTMENT_BOOKED,
        Kind.HALL_APPOINTMENT_CANCELLED,
        Kind.CREDIT_GRADE_DROP,
    }
)
# Secrets: once sent, their digits are masked in the outbox row (a verification code).
REDACTED_KINDS = frozenset({Kind.SMS_CODE})
# Marketing-like kinds a customer may opt out of.
OPT_OUT_KINDS = frozenset({Kind.GREETING})


class NotifyChannel(models.TextChoices):
    SMS = "sms", _("短信")
    WECHAT = "wechat", _("微信")
    EMAIL = "email", _("邮件")


class NotificationStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    RETRYING = "retrying", _("发送失败待重试")
    SENT = "sent", _("已发送")
    DEAD = "dead", _("发送失败")
    SUPPRESSED = "suppressed", _("未发送")


DUE_STATUSES = (NotificationStatus.PENDING, NotificationStatus.RETRYING)


class SuppressReason(models.TextChoices):
    NO_CHANNEL = "no_channel", _("未开通任何通知方式")
    OPTED_OUT = "opted_out", _("客户已退订")
    NO_RECIPIENT = "no_recipient", _("缺少接收号码/地址")


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    LAUNCHED = "launched", _("已发送")
