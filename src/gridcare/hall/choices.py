"""Vocabulary of the smart service hall (SPEC C6, issue 16)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class TicketSource(models.TextChoices):
    GREETER = "greeter", _("引导台")
    KIOSK = "kiosk", _("自助取号机")
    PORTAL = "portal", _("远程取号")
    APPOINTMENT = "appointment", _("预约")


class TicketStatus(models.TextChoices):
    WAITING = "waiting", _("等候中")
    CALLED = "called", _("已叫号")
    SERVING = "serving", _("办理中")
    DONE = "done", _("已办结")
    NO_SHOW = "no_show", _("过号")
    EXPIRED = "expired", _("已失效")
    CANCELLED = "cancelled", _("已取消")


OPEN_TICKET = (TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.SERVING)


class PriorityReason(models.TextChoices):
    """Why a ticket is in the priority line from the start ('' = a normal ticket)."""

    NONE = "", _("普通")
    APPOINTMENT = "appointment", _("预约准时签到")
    ELDERLY = "elderly", _("老年人")
    DISABLED = "disabled", _("残障人士")
    VIP = "vip", _("VIP客户")


class TicketStep(models.TextChoices):
    """Every timestamped step of a ticket (TicketEvent.kind)."""

    ISSUED = "issued", _("取号")
    CHECKED_IN = "checked_in", _("到厅签到")
    REMOTE_CALLED = "remote_called", _("远程号到号通知")
    CALLED = "called", _("叫号")
    RECALLED = "recalled", _("重呼")
    STARTED = "started", _("开始办理")
    FINISHED = "finished", _("办结")
    TRANSFERRED = "transferred", _("转移")
    NO_SHOW = "no_show", _("过号")
    EXPIRED = "expired", _("失效")
    CANCELLED = "cancelled", _("取消")
    NOTIFIED = "notified", _("临近提醒短信")
    RATED = "rated", _("评价")


class CounterState(models.TextChoices):
    CLOSED = "closed", _("未开窗")
    OPEN = "open", _("服务中")
    PAUSED = "paused", _("暂停服务")


class DeviceKind(models.TextChoices):
    DISPLAY = "display", _("叫号显示屏")
    KIOSK = "kiosk", _("自助取号机")
    EVALUATOR = "evaluator", _("评价器")


class TriageOutcome(models.TextChoices):
    TICKET = "ticket", _("取号排队")
    SELF_SERVICE = "self_service", _("引导自助办理")


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", _("已预约")
    CHECKED_IN = "checked_in", _("已签到")
    CANCELLED = "cancelled", _("已取消")
    NO_SHOW = "no_show", _("爽约")


class Score(models.TextChoices):
    VERY_SATISFIED = "very_satisfied", _("非常满意")
    SATISFIED = "satisfied", _("满意")
    NEUTRAL = "neutral", _("一般")
    DISSATISFIED = "dissatisfied", _("不满意")


SATISFIED_SCORES = (Score.VERY_SATISFIED, Score.SATISFIED)


class FollowUpStatus(models.TextChoices):
    OPEN = "open", _("待跟进")
    CLOSED = "closed", _("已处理")


class TerminalEventKind(models.TextChoices):
    ONLINE = "online", _("上线")
    OFFLINE = "offline", _("离线")
    CASH_BOX = "cash_box", _("钱箱将满")
    PAPER_LOW = "paper_low", _("缺纸")
    PRINTER_FAULT = "printer_fault", _("打印机故障")
    ACCEPTOR_FAULT = "acceptor_fault", _("纸币识别器故障")
    FAULT_CLEARED = "fault_cleared", _("故障恢复")
    TRANSACTION = "transaction", _("交易")
    ID_READ = "id_read", _("读取身份证")


class TerminalFault(models.TextChoices):
    PRINTER = "printer", _("打印机故障")
    ACCEPTOR = "acceptor", _("纸币识别器故障")
    PAPER = "paper", _("缺纸")
    CASH_BOX = "cash_box", _("钱箱将满")
    OFFLINE = "offline", _("离线")


class TaskStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    DONE = "done", _("已完成")
