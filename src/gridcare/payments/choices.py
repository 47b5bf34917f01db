"""Kinds and states of payments and ledger entries."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class PaymentChannel(models.TextChoices):
    """Where the money came in (SPEC C3)."""

    COUNTER_CASH = "counter_cash", _("柜台现金")
    COUNTER_CARD = "counter_card", _("柜台刷卡")
    PORTAL = "portal", _("网上国网/门户在线支付")
    ALIPAY = "alipay", _("支付宝")
    WECHAT = "wechat", _("微信支付")
    BANK = "bank", _("银行代扣")
    TERMINAL = "terminal", _("自助缴费终端")
    COLLECTION_POINT = "collection_point", _("代收点")
    PHONE_BANK = "phone_bank", _("电话银行")


# Channels of collection agents (代收机构, `payments.channels.agents`): an agent's kind is its payments' channel.
AGENT_CHANNELS = (PaymentChannel.COLLECTION_POINT, PaymentChannel.PHONE_BANK)


class PaymentStatus(models.TextChoices):
    POSTED = "posted", _("已入账")
    REVERSED = "reversed", _("已冲正")


class EntryKind(models.TextChoices):
    """A ledger entry: positive amounts are owed by the customer, negative ones are credits."""

    BILL = "bill", _("电费")
    LATE_FEE = "late_fee", _("违约金")
    PAYMENT = "payment", _("缴费")
    REVERSAL = "reversal", _("缴费冲正")
    ADJUSTMENT = "adjustment", _("调整")
    WAIVER = "waiver", _("违约金减免")
    REFUND = "refund", _("退费")


class ReconKind(models.TextChoices):
    """Kinds of reconciliation exceptions (对账差错)."""

    OURS_ONLY = "ours_only", _("我方有、渠道无")
    THEIRS_ONLY = "theirs_only", _("渠道有、我方无")
    AMOUNT_DIFFERS = "amount_differs", _("金额不符")
    REVERSED_PAID = "reversed_paid", _("我方已冲正、渠道显示已付")
    ACCOUNT_DIFFERS = "account_differs", _("户号不符")
    PAID_CLOSED = "paid_closed", _("订单关闭后支付")


class PrepaidAlertState(models.TextChoices):
    """A prepaid account's low-balance alert: armed (余额充足) until the estimate drops below the threshold."""

    ARMED = "armed", _("余额充足")
    LOW = "low", _("余额不足")


class RefundMethod(models.TextChoices):
    CASH = "cash", _("现金退还")
    BANK_TRANSFER = "bank_transfer", _("银行转账")
    ORIGINAL = "original", _("原路退回")


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPROVED = "approved", _("已批准")
    REJECTED = "rejected", _("已驳回")


class RefundChannelStatus(models.TextChoices):
    """Of a refund to the original channel (`Refund.channel_status`, blank for every other method): processing
    from approval until the channel says the money left (success) or refused it (failed)."""

    PROCESSING = "processing", _("处理中")
    SUCCESS = "success", _("成功")
    FAILED = "failed", _("失败")


class RefundOrigin(models.TextChoices):
    """Who started a refund (`Refund.origin`): staff through the approval, or the channel on its own side."""

    STAFF = "staff", _("营业人员申请")
    CHANNEL = "channel", _("渠道侧退款")


class ShiftStatus(models.TextChoices):
    OPEN = "open", _("未日结")
    CLOSED = "closed", _("已日结")


class DunningStage(models.TextChoices):
    """A dunning notice (催费通知) stage (SPEC C3, issue 4 §6)."""

    REMINDER = "reminder", _("缴费提醒")
    OVERDUE = "overdue", _("逾期通知")
    DISCONNECT = "disconnect", _("停电通知")
    RECONNECT = "reconnect", _("复电通知")


class DisconnectCaseStatus(models.TextChoices):
    """Where a disconnection notice's case stands, from the notice to the account's reconnection."""

    PENDING = "pending", _("已通知待停电")
    ORDERED = "ordered", _("已生成停电任务")
    DISCONNECTED = "disconnected", _("已停电")
    RECONNECTING = "reconnecting", _("待复电")
    CLOSED = "closed", _("已复电")
    CANCELLED = "cancelled", _("已缴清撤销")
    REJECTED = "rejected", _("停电未获批准")


class TaskKind(models.TextChoices):
    DISCONNECT = "disconnect", _("欠费停电")
    RECONNECT = "reconnect", _("复电")


class TaskStatus(models.TextChoices):
    AWAITING_APPROVAL = "awaiting_approval", _("待经理审批")
    OPEN = "open", _("待执行")
    DONE = "done", _("已完成")
    REJECTED = "rejected", _("审批未通过")
    CANCELLED = "cancelled", _("已撤销")


class OrderStatus(models.TextChoices):
    """Of an online payment order (`PaymentOrder`): a channel's notification pays it once."""

    CREATED = "created", _("待支付")
    PAID = "paid", _("已支付")
    CLOSED = "closed", _("已关闭")


class WaiverStatus(models.TextChoices):
    """Of a late-fee waiver request (`FeeWaiver`)."""

    PENDING = "pending", _("待审批")
    APPROVED = "approved", _("已批准")
    REJECTED = "rejected", _("已驳回")


class BatchStatus(models.TextChoices):
    """Of a bank withholding batch (`WithholdingBatch`): settled once no item waits for the bank's result."""

    EXPORTED = "exported", _("已导出")
    SETTLED = "settled", _("已回盘")


class ItemStatus(models.TextChoices):
    """Of one debit of a withholding batch (`WithholdingItem`), as the bank's result file says."""

    PENDING = "pending", _("待回盘")
    DEBITED = "debited", _("扣款成功")
    FAILED = "failed", _("扣款失败")


class StatementStatus(models.TextChoices):
    """Of an imported channel statement (`StatementImport`): a later file of the same day and channel
    supersedes it; importing the superseded file again makes it current again."""

    CURRENT = "current", _("有效")
    SUPERSEDED = "superseded", _("已作废")


class ExceptionStatus(models.TextChoices):
    """Of a reconciliation exception (`ReconciliationException`)."""

    OPEN = "open", _("待处理")
    RESOLVED = "resolved", _("已处理")
    SUPERSEDED = "superseded", _("已作废")
