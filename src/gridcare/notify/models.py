"""Notification outbox (消息通知): templates, customer preferences, campaigns and one row per notice per channel."""

from datetime import time

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from gridcare.customers.choices import CustomerClass, Segment

from .choices import CampaignStatus, Kind, NotificationStatus, NotifyChannel, SuppressReason


class NoticeTemplate(models.Model):
    """The zh-CN wording of one kind of notice on one channel (reference data, editable in admin)."""

    kind = models.CharField(_("通知类型"), max_length=24, choices=Kind.choices)
    channel = models.CharField(_("渠道"), max_length=8, choices=NotifyChannel.choices)
    subject = models.CharField(_("邮件主题"), max_length=200, blank=True)
    body = models.TextField(_("正文模板"))
    wechat_template_id = models.CharField(_("微信模板ID"), max_length=64, blank=True)
    # WeChat template message fields: {"first": "...", "keyword1": "...", "remark": "..."}, each a template.
    wechat_fields = models.JSONField(_("微信模板字段"), default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "channel"], name="notify_template_kind_channel")
        ]
        ordering = ["kind", "channel"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.get_channel_display()}"


class NotifyPreference(models.Model):
    """A customer's notice preferences beyond the channel switches on Customer: quiet hours, WeChat, opt-outs."""

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="notify_preference"
    )
    quiet_start = models.TimeField(_("免打扰开始"), default=time(22, 0))
    quiet_end = models.TimeField(_("免打扰结束"), default=time(8, 0))
    wechat_openid = models.CharField(_("微信用户标识"), max_length=64, blank=True)
    greetings_opt_out = models.BooleanField(_("不接收节日问候等营销信息"), default=False)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"pref {self.customer_id}"


class Campaign(models.Model):
    """A notice sent to a segment of customers at once (节日问候)."""

    name = models.CharField(_("活动名称"), max_length=100)
    kind = models.CharField(_("通知类型"), max_length=24, choices=Kind.choices, default=Kind.GREETING)
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="+")
    segment = models.CharField(_("客户分群"), max_length=16, choices=Segment.choices, blank=True)
    customer_class = models.CharField(_("用电类别"), max_length=16, choices=CustomerClass.choices, blank=True)
    text = models.TextField(_("问候内容"))
    scheduled_at = models.DateTimeField(_("计划发送时间"))
    status = models.CharField(max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    recipients = models.PositiveIntegerField(_("接收客户数"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    launched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class Notification(models.Model):
    """One notice to one customer on one channel: the outbox row the dispatcher sends and retries."""

    # Empty only for a transactional SMS (a verification code) to a phone that need not be a customer's.
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    account = models.ForeignKey(
        "customers.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The customer's unit (empty with the customer).
    unit = models.ForeignKey(
        "org.SupplyUnit", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    kind = models.CharField(_("通知类型"), max_length=24, choices=Kind.choices)
    channel = models.CharField(_("渠道"), max_length=8, choices=NotifyChannel.choices, blank=True)
    recipient = models.CharField(_("接收方"), max_length=254, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)  # WeChat template id and data
    status = models.CharField(
        _("状态"), max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    suppressed_reason = models.CharField(max_length=16, choices=SuppressReason.choices, blank=True)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    not_before = models.DateTimeField()  # quiet hours or a campaign's send time
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(_("最近错误"), blank=True)
    provider_id = models.CharField(max_length=128, blank=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    # The caller's key plus the channel: the same notice enqueued twice (a retried job) is one row.
    dedupe_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField()

    # Set only on rows from selectors.notifications_for_customer (the recipient, masked unless revealed);
    # declared for the type checker, not a field.
    shown_recipient: str

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="notify_due"),
            models.Index(fields=["customer", "-created_at"], name="notify_customer_recent"),
            models.Index(fields=["campaign", "status"], name="notify_campaign_status"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}/{self.channel} → {self.customer_id}"


class PendingNotice(models.Model):
    """A notice asked for inside a money transaction and not rendered yet: one cheap row that commits (or
    rolls back) with the payment; `notify.outbox.notices_render_pending` renders it onto the customer's
    channels later, off the request, and deletes it."""

    kind = models.CharField(_("通知类型"), max_length=24, choices=Kind.choices)
    # A queue read in id order and emptied within a minute: no index on customer or account to keep up on
    # every payment (deleting a customer or account scans the few rows waiting), and the dedupe key unique by
    # a constraint, without the LIKE twin index that unique=True adds on PostgreSQL.
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, db_index=False, related_name="+"
    )
    account = models.ForeignKey(
        "customers.Account",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_index=False,
        related_name="+",
    )
    account_number = models.CharField(max_length=32, blank=True)  # spares the account lookup when rendering
    context = models.JSONField(default=dict)  # values tagged by type (`outbox._encode`)
    dedupe_key = models.CharField(max_length=180)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["dedupe_key"], name="notify_pending_dedupe_uniq")]

    def __str__(self) -> str:
        return f"{self.kind} {self.dedupe_key}"
