"""The smart service hall (SPEC C6, issue 16): queue tickets, counters, appointments, evaluation devices,
self-service terminal monitoring.

A `Ticket` is one customer's place in a hall's queue for one business `Category`; its number (A001…) comes from a
`TicketSequence` per hall, category and day. The order in which counters call tickets is one pure rule
(`priority.queue_order`); every step is a `TicketEvent`. A counter (`org.Counter`) is set up for the hall queue by
its `CounterSetup` (the categories it serves, its state, the clerk at it). Hall devices (the TV display, the
kiosk, the evaluation device bound to a counter) log in with a secret key, never a user."""

from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .choices import (
    AppointmentStatus,
    CounterState,
    DeviceKind,
    FollowUpStatus,
    PriorityReason,
    Score,
    TaskStatus,
    TerminalEventKind,
    TerminalFault,
    TicketSource,
    TicketStatus,
    TicketStep,
    TriageOutcome,
)


class Category(models.Model):
    """A business category of the hall queue (交费, 业扩报装…) with its ticket letter."""

    code = models.SlugField(_("代码"), max_length=24, unique=True)
    letter = models.CharField(_("号段字母"), max_length=1, unique=True)
    name = models.CharField(_("业务类别"), max_length=30)
    # A simple case of this category the greeter may send to the self-service terminals instead.
    self_service = models.BooleanField(_("可自助办理"), default=False)
    sort = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["sort", "letter"]

    def __str__(self) -> str:
        return f"{self.letter} {self.name}"


class HallProfile(models.Model):
    """How one hall runs its queue: opening times and the configurable numbers of issue 16."""

    hall = models.OneToOneField(
        "org.ServiceHall", primary_key=True, on_delete=models.CASCADE, related_name="profile"
    )
    opens_at = models.TimeField(_("开门时间"), default=time(8, 30))
    closes_at = models.TimeField(_("关门时间"), default=time(17, 30))
    # ISO weekdays the hall opens (1 = Monday … 7 = Sunday); county halls open at weekends too.
    open_weekdays = models.CharField(_("营业日"), max_length=7, default="1234567")
    accepting = models.BooleanField(_("正常营业"), default=True)
    elderly_age = models.PositiveSmallIntegerField(_("老年人优先年龄"), default=65)
    starvation_guard_minutes = models.PositiveSmallIntegerField(_("防饿死等候上限（分钟）"), default=20)
    max_recalls = models.PositiveSmallIntegerField(_("过号前重呼次数"), default=3)
    call_ahead_places = models.PositiveSmallIntegerField(_("提前提醒位次"), default=3)
    remote_checkin_minutes = models.PositiveSmallIntegerField(_("远程号到号后签到时限（分钟）"), default=30)
    appointment_grace_minutes = models.PositiveSmallIntegerField(_("预约优先签到宽限（分钟）"), default=10)
    slot_capacity = models.PositiveSmallIntegerField(_("每时段预约容量"), default=4)
    wait_target_minutes = models.PositiveSmallIntegerField(_("等候时间目标（分钟）"), default=15)
    min_ratings_to_rank = models.PositiveSmallIntegerField(_("参与排名的最少评价数"), default=30)

    def __str__(self) -> str:
        return str(self.hall)


class HallClosure(models.Model):
    """A day a hall does not open (a holiday, a renovation)."""

    hall = models.ForeignKey("org.ServiceHall", on_delete=models.CASCADE, related_name="closures")
    day = models.DateField(_("日期"))
    reason = models.CharField(_("原因"), max_length=100, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hall", "day"], name="hall_closure_uniq")]

    def __str__(self) -> str:
        return f"{self.hall} {self.day}"


class HallCategory(models.Model):
    """A category a hall offers, with its appointment capacity per 30-minute slot (null: the hall's default)."""

    hall = models.ForeignKey("org.ServiceHall", on_delete=models.CASCADE, related_name="hall_categories")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+")
    slot_capacity = models.PositiveSmallIntegerField(_("每时段预约容量"), null=True, blank=True)
    bookable = models.BooleanField(_("可预约"), default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hall", "category"], name="hall_category_uniq")]

    def __str__(self) -> str:
        return f"{self.hall} {self.category}"


class TicketSequence(models.Model):  # noqa: DJ008
    """The last number issued per hall, category and (China) day."""

    hall = models.ForeignKey("org.ServiceHall", on_delete=models.CASCADE, related_name="+")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hall", "category", "day"], name="hall_ticket_seq_uniq")
        ]


class Ticket(models.Model):
    """One customer's place in a hall's queue (排队号)."""

    hall = models.ForeignKey("org.ServiceHall", on_delete=models.PROTECT, related_name="tickets")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="tickets")
    day = models.DateField(_("日期"))  # the China day of issue; numbers restart every day
    seq = models.PositiveIntegerField()
    number = models.CharField(_("号码"), max_length=8)
    source = models.CharField(_("取号渠道"), max_length=12, choices=TicketSource.choices)
    status = models.CharField(
        _("状态"), max_length=10, choices=TicketStatus.choices, default=TicketStatus.WAITING
    )
    priority_reason = models.CharField(
        _("优先原因"), max_length=12, choices=PriorityReason.choices, blank=True, default=""
    )
    issued_at = models.DateTimeField(_("取号时间"))
    # Where the ticket stands in its line: the issue time, or the check-in time of an appointment on time.
    # A transfer keeps it, so the ticket keeps its place.
    queue_at = models.DateTimeField()
    # A remote (portal) ticket is in the queue from issue but must check in at the hall: until then it is
    # skipped when its turn comes (remote_called_at: the customer is told to come) and expires after the
    # hall's remote_checkin_minutes.
    checked_in_at = models.DateTimeField(_("签到时间"), null=True, blank=True)
    remote_called_at = models.DateTimeField(null=True, blank=True)
    phone = models.CharField(_("手机号"), max_length=20, blank=True)
    account = models.ForeignKey(
        "customers.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    portal_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A transfer to a counter: only that counter may call it.
    target_counter = models.ForeignKey(
        "org.Counter", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    counter = models.ForeignKey(
        "org.Counter", null=True, blank=True, on_delete=models.SET_NULL, related_name="hall_tickets"
    )
    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    called_at = models.DateTimeField(_("叫号时间"), null=True, blank=True)
    recall_count = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(_("开始办理"), null=True, blank=True)
    finished_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)  # no-show, expiry, cancellation
    # The first call of the ticket (its wait ends there even if it is later transferred).
    first_called_at = models.DateTimeField(null=True, blank=True)
    call_ahead_sent = models.BooleanField(default=False)
    transfers = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hall", "day", "number"], name="hall_ticket_number_uniq"),
            # One live remote ticket per phone (issue 16 §1).
            models.UniqueConstraint(
                fields=["phone"],
                condition=Q(source="portal", status__in=["waiting", "called", "serving"]),
                name="hall_one_live_remote_ticket",
            ),
        ]
        indexes = [
            models.Index(fields=["hall", "status", "priority_reason", "queue_at"], name="hall_ticket_line"),
            models.Index(fields=["hall", "day"], name="hall_ticket_day"),
            models.Index(fields=["phone", "status"], name="hall_ticket_phone"),
            # The head of the priority line in order (several priority reasons defeat the line index's order).
            models.Index(
                fields=["hall", "status", "queue_at"],
                condition=~Q(priority_reason=""),
                name="hall_ticket_prio_line",
            ),
            # The daily close of past days' open tickets reads only the open ones.
            models.Index(
                fields=["day"],
                condition=Q(status__in=["waiting", "called", "serving"]),
                name="hall_ticket_open_day",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class TicketEvent(models.Model):
    """One timestamped step of a ticket (issue, call, recall, transfer, finish…)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=TicketStep.choices)
    at = models.DateTimeField()
    counter = models.ForeignKey(
        "org.Counter", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind}"


class CounterSetup(models.Model):
    """A counter as the queue sees it: the categories it serves, its state and the clerk at it."""

    counter = models.OneToOneField(
        "org.Counter", primary_key=True, on_delete=models.CASCADE, related_name="setup"
    )
    categories = models.ManyToManyField(Category, related_name="+", blank=True)
    state = models.CharField(max_length=8, choices=CounterState.choices, default=CounterState.CLOSED)
    state_since = models.DateTimeField(null=True, blank=True)
    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    current = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    def __str__(self) -> str:
        return str(self.counter)


class CounterSession(models.Model):
    """A clerk's time at a counter (open → close), for tickets per counter-hour; pauses are subtracted."""

    counter = models.ForeignKey("org.Counter", on_delete=models.CASCADE, related_name="sessions")
    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    paused_seconds = models.PositiveIntegerField(default=0)
    paused_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["counter", "opened_at"])]

    def __str__(self) -> str:
        return f"{self.counter_id} {self.opened_at:%Y-%m-%d %H:%M}"


class HallDevice(models.Model):
    """A device of the hall that runs a page without a user: the TV display, a kiosk, an evaluation device bound
    to a counter. It opens its page with a secret key; only the key's SHA-256 is stored."""

    hall = models.ForeignKey("org.ServiceHall", on_delete=models.CASCADE, related_name="devices")
    kind = models.CharField(_("设备类型"), max_length=10, choices=DeviceKind.choices)
    counter = models.ForeignKey(
        "org.Counter", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(_("名称"), max_length=50, blank=True)
    key_hash = models.CharField(max_length=64, unique=True)
    enabled = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="evaluator") | Q(counter__isnull=False), name="hall_evaluator_has_counter"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name}"


class GreeterTriage(models.Model):
    """What the greeter (引导员) did with a customer: a ticket, or sent to self-service."""

    hall = models.ForeignKey("org.ServiceHall", on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=12, choices=TriageOutcome.choices)
    ticket = models.OneToOneField(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [models.Index(fields=["hall", "at"])]

    def __str__(self) -> str:
        return f"{self.hall_id} {self.outcome}"


class Appointment(models.Model):
    """A booking (预约) of a 30-minute slot at a hall for a category."""

    hall = models.ForeignKey("org.ServiceHall", on_delete=models.PROTECT, related_name="appointments")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+")
    slot_start = models.DateTimeField(_("预约时段"))
    phone = models.CharField(_("手机号"), max_length=20)
    portal_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    code = models.CharField(_("预约码"), max_length=12, unique=True)
    status = models.CharField(
        _("状态"), max_length=12, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED
    )
    created_at = models.DateTimeField()
    checked_in_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    no_show_at = models.DateTimeField(null=True, blank=True)
    ticket = models.OneToOneField(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="appointment"
    )

    class Meta:
        indexes = [
            models.Index(fields=["hall", "category", "slot_start", "status"], name="hall_appt_slot"),
            models.Index(fields=["phone", "status", "slot_start"], name="hall_appt_phone"),
        ]

    def __str__(self) -> str:
        return self.code


class Rating(models.Model):
    """The customer's rating of one transaction on the counter's evaluation device (评价器)."""

    ticket = models.OneToOneField(Ticket, on_delete=models.PROTECT, related_name="rating")
    hall = models.ForeignKey("org.ServiceHall", on_delete=models.PROTECT, related_name="+")
    counter = models.ForeignKey("org.Counter", on_delete=models.PROTECT, related_name="+")
    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    score = models.CharField(_("评价"), max_length=16, choices=Score.choices)
    reason = models.CharField(_("不满意原因"), max_length=200, blank=True)
    rated_at = models.DateTimeField()
    device = models.ForeignKey(HallDevice, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["clerk", "rated_at"]), models.Index(fields=["hall", "rated_at"])]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.score}"


class RatingFollowUp(models.Model):
    """A 不满意 rating the hall manager follows up."""

    rating = models.OneToOneField(Rating, on_delete=models.CASCADE, related_name="follow_up")
    status = models.CharField(max_length=8, choices=FollowUpStatus.choices, default=FollowUpStatus.OPEN)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(_("处理情况"), max_length=500, blank=True)

    def __str__(self) -> str:
        return f"{self.rating_id} {self.status}"


class TerminalState(models.Model):
    """What a self-service terminal last reported (heartbeat, cash box, paper, device faults)."""

    terminal = models.OneToOneField(
        "payments.Terminal", primary_key=True, on_delete=models.CASCADE, related_name="state"
    )
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    online = models.BooleanField(default=False)
    cash_box_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    paper_low = models.BooleanField(default=False)
    printer_fault = models.BooleanField(default=False)
    acceptor_fault = models.BooleanField(default=False)
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return str(self.terminal_id)


class TerminalEvent(models.Model):
    """A terminal's event: going on/offline, an alert, a fault, a transaction, an ID-card read (masked)."""

    terminal = models.ForeignKey("payments.Terminal", on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=TerminalEventKind.choices)
    at = models.DateTimeField()
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["terminal", "at"]), models.Index(fields=["kind", "at"])]

    def __str__(self) -> str:
        return f"{self.terminal_id} {self.kind}"


class TerminalDay(models.Model):  # noqa: DJ008
    """A terminal's day: seconds online within the hall's opening hours, transactions and ID reads."""

    terminal = models.ForeignKey("payments.Terminal", on_delete=models.CASCADE, related_name="days")
    day = models.DateField()
    online_seconds = models.PositiveIntegerField(default=0)
    transactions = models.PositiveIntegerField(default=0)
    id_reads = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["terminal", "day"], name="hall_terminal_day_uniq")]


class MaintenanceTask(models.Model):
    """A maintenance task opened by a terminal fault (or an alert) and closed by staff."""

    terminal = models.ForeignKey(
        "payments.Terminal", on_delete=models.CASCADE, related_name="maintenance_tasks"
    )
    fault = models.CharField(_("故障"), max_length=12, choices=TerminalFault.choices)
    status = models.CharField(_("状态"), max_length=8, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(_("处理说明"), max_length=500, blank=True)

    class Meta:
        constraints = [
            # One open task per terminal and fault: a fault reported again does not open a second task.
            models.UniqueConstraint(
                fields=["terminal", "fault"], condition=Q(status="open"), name="hall_one_open_task"
            )
        ]

    def __str__(self) -> str:
        return f"{self.terminal_id} {self.fault}"
