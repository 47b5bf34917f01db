"""States the customer portal shows: an account's money and collections state, a bill's payment status."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class AccountMoneyState(models.TextChoices):
    """What a customer must know first about an account, most serious first (see `selectors.money_state`)."""

    DISCONNECTED = "disconnected", _("已停电")
    RECONNECTING = "reconnecting", _("已缴清待复电")
    DISCONNECT_NOTICE = "disconnect_notice", _("停电通知")
    ARREARS = "arrears", _("欠费")
    LOW_BALANCE = (
        "low_balance",
        _("余额不足"),
    )  # a prepaid account whose estimated balance is below its threshold
    DUE = "due", _("待缴费")
    CLEAR = "clear", _("正常")


class BillPaymentStatus(models.TextChoices):
    """Whether an issued bill is paid: principal and any late fee charged on it."""

    PAID = "paid", _("已缴清")
    PARTLY_PAID = "partly_paid", _("部分缴费")
    UNPAID = "unpaid", _("未缴")


class CodePurpose(models.TextChoices):
    """What an SMS code (短信验证码) was sent for."""

    REGISTER = "register", _("注册")
    BIND = "bind", _("绑定户号")
    REAUTH = "reauth", _("身份确认")
    PHONE_CHANGE = "phone_change", _("更换手机号")
    FAULT_REPORT = "fault_report", _("故障报修")  # the public fault-report form (gridcare.service.intake)
