"""95598 multi-channel service (SPEC C4, issue 15).

A `WorkOrder` is a customer's request whatever the channel: its type says which lifecycle it follows
(`lifecycle.py`, one table per type), its `WorkOrderDeadline` rows are the clocks computed on the server when it
was created (`deadlines.py` from the `SlaPolicy` table and the working-day calendar of `gridcare.core`), and every
step is a `WorkOrderEvent` (who, when, a note). Attachments are checked for type and size; the knowledge base keeps
versions with an approval step; an online chat can become an order with its transcript."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .choices import (
    SUB_TYPE_CHOICES,
    AreaKind,
    ArticleStatus,
    ChatSender,
    ChatStatus,
    DeadlineBasis,
    DeadlineName,
    DeadlineUnit,
    OrderChannel,
    OrderType,
    Priority,
    Satisfaction,
    Step,
    Triage,
)


class WorkOrder(models.Model):
    """One customer request (工单): a fault report, complaint, report, opinion, consultation, praise or service
    request, from any channel."""

    number = models.CharField(_("工单编号"), max_length=24, unique=True)
    order_type = models.CharField(_("工单类型"), max_length=16, choices=OrderType.choices)
    sub_type = models.CharField(_("子类"), max_length=16, choices=SUB_TYPE_CHOICES, blank=True)
    channel = models.CharField(_("受理渠道"), max_length=8, choices=OrderChannel.choices)
    status = models.CharField(_("状态"), max_length=12, choices=Step.choices, default=Step.CREATED)
    priority = models.PositiveSmallIntegerField(
        _("优先级"), choices=Priority.choices, default=Priority.NORMAL
    )
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="work_orders")
    account = models.ForeignKey(
        "customers.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="work_orders"
    )
    transformer_area = models.ForeignKey(
        "customers.TransformerArea", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    caller_name = models.CharField(_("联系人"), max_length=50, blank=True)
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    area = models.CharField(_("区域"), max_length=8, choices=AreaKind.choices, blank=True)
    description = models.TextField(_("诉求内容"), blank=True)
    received_at = models.DateTimeField(_("受理时间"))
    received_entered = models.BooleanField(default=False)  # staff entered an earlier time (a letter, a visit)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    triage = models.CharField(_("研判结果"), max_length=8, choices=Triage.choices, blank=True)
    outage = models.ForeignKey(
        "outages.OutageEvent", null=True, blank=True, on_delete=models.PROTECT, related_name="work_orders"
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="duplicates"
    )
    escalation_level = models.PositiveSmallIntegerField(_("升级次数"), default=0)
    chase_count = models.PositiveSmallIntegerField(_("催办次数"), default=0)
    reopen_count = models.PositiveSmallIntegerField(_("重办次数"), default=0)
    substantiated = models.BooleanField(_("投诉属实"), null=True, blank=True)
    fault_cause = models.CharField(_("故障原因"), max_length=200, blank=True)
    resolution = models.TextField(_("处理结果"), blank=True)
    arrived_at = models.DateTimeField(_("到达现场时间"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("处理完成时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("归档时间"), null=True, blank=True)
    callback_result = models.CharField(
        _("回访满意度"), max_length=12, choices=Satisfaction.choices, blank=True
    )
    callback_note = models.CharField(_("回访记录"), max_length=500, blank=True)
    callback_at = models.DateTimeField(null=True, blank=True)
    customer_rating = models.CharField(_("客户评价"), max_length=12, choices=Satisfaction.choices, blank=True)
    customer_comment = models.CharField(_("客户评价内容"), max_length=500, blank=True)
    customer_user = models.ForeignKey(  # the portal customer who submitted it (their orders page)
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    demo = models.BooleanField(default=False, editable=False)  # built by `gridcare demo_service` (--replace)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["unit", "status"]),
            models.Index(fields=["unit", "received_at"]),
            models.Index(fields=["order_type", "received_at"]),
            models.Index(fields=["phone"]),
            models.Index(fields=["transformer_area", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.get_order_type_display()}"


class WorkOrderEvent(models.Model):
    """One step of an order's history: the action, the step before and after, who, when, a note."""

    order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=24)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=60, blank=True)  # the system, the customer, a crew member
    at = models.DateTimeField()
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id} {self.action} {self.at:%Y-%m-%d %H:%M}"


class WorkOrderDeadline(models.Model):
    """One clock of an order, computed on the server: due at, whether provisional, when warned (80 %),
    escalated (overdue) and met. The rule it came from is kept, so a policy change applies to new orders only."""

    order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="deadlines")
    name = models.CharField(max_length=12, choices=DeadlineName.choices)
    amount = models.PositiveIntegerField()
    unit = models.CharField(max_length=12, choices=DeadlineUnit.choices)
    starts_at = models.DateTimeField()
    due_at = models.DateTimeField()
    provisional = models.BooleanField(default=False)
    warned_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    met_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [models.UniqueConstraint(fields=["order", "name"], name="service_deadline_once")]
        indexes = [models.Index(fields=["met_at", "due_at"])]

    def __str__(self) -> str:
        return f"{self.order_id} {self.name} {self.due_at:%Y-%m-%d %H:%M}"


class WorkOrderAttachment(models.Model):
    """A file attached to an order (an image or a PDF; type checked by content, size capped)."""

    order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="workorders/%Y/%m/")
    name = models.CharField(max_length=120)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class SlaPolicy(models.Model):
    """One time-limit rule (服务承诺时限): for a type (and sub-type, area, or any when blank), a named deadline of
    so many minutes, hours or working days from receipt, arrival or resolution. Editable by administrators;
    orders keep the rule they were created with."""

    order_type = models.CharField(max_length=16, choices=OrderType.choices, blank=True)  # blank: every type
    sub_type = models.CharField(max_length=16, choices=SUB_TYPE_CHOICES, blank=True)
    area = models.CharField(max_length=8, choices=AreaKind.choices, blank=True)
    name = models.CharField(max_length=12, choices=DeadlineName.choices)
    amount = models.PositiveIntegerField()
    unit = models.CharField(max_length=12, choices=DeadlineUnit.choices)
    basis = models.CharField(max_length=8, choices=DeadlineBasis.choices, default=DeadlineBasis.RECEIVED)
    updated_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["order_type", "sub_type", "area", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["order_type", "sub_type", "area", "name"], name="service_sla_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.order_type or '*'}/{self.sub_type or '*'}/{self.area or '*'} {self.name} {self.amount} {self.unit}"


class KnowledgeArticle(models.Model):
    """A knowledge-base article (知识库) for consultations; its text lives in versions, one of them published."""

    code = models.CharField(_("编号"), max_length=20, unique=True)
    category = models.CharField(_("分类"), max_length=40)
    title = models.CharField(_("标题"), max_length=200)  # of the published version (or the first draft)
    published = models.ForeignKey(
        "KnowledgeVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class KnowledgeVersion(models.Model):
    """One version of an article: drafted, submitted, approved (published) or rejected by a second person."""

    article = models.ForeignKey(KnowledgeArticle, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    keywords = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    review_note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["article", "-version"]
        constraints = [models.UniqueConstraint(fields=["article", "version"], name="service_kb_version_once")]

    def __str__(self) -> str:
        return f"{self.article_id} v{self.version}"


class ChatSession(models.Model):
    """An online chat (在线客服) started by a portal customer and answered by an agent."""

    customer_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(
        "customers.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=ChatStatus.choices, default=ChatStatus.WAITING)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    topic = models.CharField(max_length=100, blank=True)
    started_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    order = models.ForeignKey(
        WorkOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="chats"
    )

    class Meta:
        ordering = ["started_at", "id"]
        indexes = [models.Index(fields=["status", "unit"])]

    def __str__(self) -> str:
        return f"chat {self.pk} {self.status}"


class ChatMessage(models.Model):
    """One line of a chat; ids only grow, so a poller asks for what came after the last id it saw."""

    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="messages")
    sender = models.CharField(max_length=8, choices=ChatSender.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    body = models.TextField()
    at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.session_id}#{self.pk}"
