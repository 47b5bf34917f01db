"""Customer credit rating (客户信用度评价, issue 17, seed 003 §1).

- `CreditPolicy`: the one row of configurable numbers (grace, grade thresholds, measures by grade, inspection
  intervals, the bank codes that mean "wrong account").
- `CreditEvent`: the register of every event the rules score — derived from the ledger, proposed by a failed
  withholding, recorded by staff with evidence, or made by an overdue rectification. Only `active` ones score.
- `CreditEvidence`, `CreditContest`: evidence files of an event; a customer's or manager's contest and its decision.
- `SiteAssessment`: the customer manager's on-site 经营行为 / 发展潜力 entry, reviewed by a supervisor.
- `Inspection`, `InspectionItem`, `RectificationNotice`: 用电检查 with its checklist and rectification notice.
- `CreditRun`, `CreditScore`, `CreditStanding`: rating runs, every customer's stored score per run (history of
  grades), and each customer's current grade (what the services read).
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .choices import (
    AssessmentStatus,
    ContestChannel,
    ContestStatus,
    EventCode,
    EventSource,
    EventStatus,
    Grade,
    InspectionClass,
    InspectionKind,
    InspectionStatus,
    ItemResult,
    NoticeStatus,
    RatedClass,
    RunKind,
    RunStatus,
)

SCORE = {"max_digits": 4, "decimal_places": 1}


def default_measures() -> dict[str, list[str]]:
    return {
        "AAA": ["deposit_waived", "priority_service"],
        "AA": ["deposit_waived", "priority_service"],
        "A": [],
        "B": [],
        "C": ["split_settlement", "dunning_earlier"],
        "D": ["deposit_or_prepaid", "connection_flag"],
    }


def default_lighting_classes() -> list[str]:
    return ["residential"]


def default_wrong_account_codes() -> list[str]:
    return ["3001", "3002"]


class CreditPolicy(models.Model):
    """The credit rules' configurable numbers: one row (pk 1), made with its defaults when first read."""

    grace_days = models.PositiveSmallIntegerField(_("欠费宽限天数"), default=0)
    grade_aaa = models.DecimalField(_("AAA级最低分"), default=Decimal("90"), **SCORE)
    grade_aa = models.DecimalField(_("AA级最低分"), default=Decimal("80"), **SCORE)
    grade_a = models.DecimalField(_("A级最低分"), default=Decimal("70"), **SCORE)
    grade_b = models.DecimalField(_("B级最低分"), default=Decimal("60"), **SCORE)
    grade_c = models.DecimalField(_("C级最低分"), default=Decimal("50"), **SCORE)
    # 用电类别 values rated as 照明户 (payment and legal only); every other class is a 动力户.
    lighting_classes = models.JSONField(_("照明户的用电类别"), default=default_lighting_classes)
    # grade → list of Measure values
    measures = models.JSONField(_("各等级风险措施"), default=default_measures)
    # Bank result codes of a failed withholding that mean the bank account is wrong (propose wrong_bank_account).
    wrong_account_codes = models.JSONField(_("表示账号错误的银行返回码"), default=default_wrong_account_codes)
    # C grade's "dunning one step earlier": the disconnection notice comes this many days earlier.
    dunning_advance_days = models.PositiveSmallIntegerField(_("提前催费天数"), default=15)
    # Periodic 用电检查 intervals, months.
    inspect_hv_months = models.PositiveSmallIntegerField(_("高压客户检查周期(月)"), default=12)
    inspect_important_months = models.PositiveSmallIntegerField(_("重要客户检查周期(月)"), default=6)
    inspect_lv_business_months = models.PositiveSmallIntegerField(_("低压非居民检查周期(月)"), default=36)
    rectification_days = models.PositiveSmallIntegerField(_("默认整改期限(天)"), default=30)
    # The on-site assessment is due again this many months after the last one (at least yearly).
    assessment_months = models.PositiveSmallIntegerField(_("现场评估周期(月)"), default=12)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("信用评价参数")
        constraints = [
            models.CheckConstraint(
                condition=Q(grade_aaa__gt=models.F("grade_aa"))
                & Q(grade_aa__gt=models.F("grade_a"))
                & Q(grade_a__gt=models.F("grade_b"))
                & Q(grade_b__gt=models.F("grade_c"))
                & Q(grade_c__gt=0)
                & Q(grade_aaa__lte=100),
                name="credit_policy_grades_descend",
            )
        ]

    def __str__(self) -> str:
        return str(_("信用评价参数"))


class CreditEvent(models.Model):
    """One event in the credit register. Its dimension follows from its code (choices.DIMENSION_OF)."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="credit_events")
    account = models.ForeignKey(
        "customers.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="credit_events"
    )
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="+")
    code = models.CharField(_("事件"), max_length=32, choices=EventCode.choices)
    date = models.DateField(_("发生日期"))
    severity = models.PositiveSmallIntegerField(_("严重程度"), null=True, blank=True)  # arrears only, 1–3
    count = models.PositiveSmallIntegerField(_("人次"), null=True, blank=True)  # unqualified_electrician only
    source = models.CharField(_("来源"), max_length=12, choices=EventSource.choices)
    status = models.CharField(_("状态"), max_length=12, choices=EventStatus.choices)
    description = models.TextField(_("情况说明"), blank=True)
    # Derived and proposed events: a stable key so a re-run updates the same row (idempotent), e.g.
    # "arrears:<account id>:<first period>", "withholding:<item id>", "rectification:<notice id>".
    source_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    inspection = models.ForeignKey(
        "Inspection", null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(_("审批意见"), max_length=200, blank=True)
    # While contested: the status to return to when the contest is upheld.
    status_before_contest = models.CharField(max_length=12, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-date", "-id"]
        indexes = [
            models.Index(fields=["customer", "date"]),
            models.Index(fields=["status", "date"]),
            models.Index(fields=["unit", "status"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(severity__isnull=True) | Q(severity__gte=1, severity__lte=3),
                name="credit_event_severity_range",
            ),
            models.CheckConstraint(
                condition=Q(count__isnull=True) | Q(count__gte=1), name="credit_event_count_min"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.code} {self.date}"


def evidence_path(instance: "CreditEvidence", filename: str) -> str:
    return f"credit/evidence/{instance.event_id}/{filename}"


class CreditEvidence(models.Model):
    """A file backing a recorded event (photo, 检查记录, 窃电通知书…)."""

    event = models.ForeignKey(CreditEvent, on_delete=models.CASCADE, related_name="evidence")
    file = models.FileField(upload_to=evidence_path, max_length=200)
    name = models.CharField(_("文件名"), max_length=120)
    size = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class CreditContest(models.Model):
    """A contest (申诉) of an event by the customer (portal or hall) or the customer manager."""

    event = models.ForeignKey(CreditEvent, on_delete=models.PROTECT, related_name="contests")
    channel = models.CharField(_("申诉渠道"), max_length=8, choices=ContestChannel.choices)
    reason = models.TextField(_("申诉理由"))
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    raised_at = models.DateTimeField()
    status = models.CharField(
        _("状态"), max_length=10, choices=ContestStatus.choices, default=ContestStatus.OPEN
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(_("处理意见"), blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event"], condition=Q(status="open"), name="credit_contest_one_open_per_event"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_id} {self.status}"


class SiteAssessment(models.Model):
    """营销服务员's on-site assessment of a 动力户: 经营行为 (0–5) and 发展潜力 (0–5), reviewed by a supervisor.
    The latest approved one counts until the next; none ever counts 0."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="site_assessments"
    )
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="+")
    conduct = models.DecimalField(_("经营行为"), max_digits=3, decimal_places=1)
    potential = models.DecimalField(_("发展潜力"), max_digits=3, decimal_places=1)
    assessed_on = models.DateField(_("评估日期"))
    note = models.TextField(_("调研情况"), blank=True)
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        _("状态"), max_length=10, choices=AssessmentStatus.choices, default=AssessmentStatus.PENDING
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(_("复核意见"), max_length=200, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-assessed_on", "-id"]
        indexes = [models.Index(fields=["customer", "status", "assessed_on"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(conduct__gte=0, conduct__lte=5, potential__gte=0, potential__lte=5),
                name="credit_assessment_range",
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.assessed_on}"


class Inspection(models.Model):
    """A 用电检查: periodic (scheduled by class) or special; its checklist items and rectification notice."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="inspections")
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("检查类型"), max_length=10, choices=InspectionKind.choices)
    inspection_class = models.CharField(
        _("检查分类"), max_length=12, choices=InspectionClass.choices, blank=True
    )
    due_on = models.DateField(_("应检日期"))
    status = models.CharField(
        _("状态"), max_length=10, choices=InspectionStatus.choices, default=InspectionStatus.SCHEDULED
    )
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    performed_on = models.DateField(_("检查日期"), null=True, blank=True)
    summary = models.TextField(_("检查结论"), blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [
            models.Index(fields=["status", "due_on"]),
            models.Index(fields=["customer", "due_on"]),
            models.Index(fields=["unit", "status", "due_on"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(status="scheduled", kind="periodic"),
                name="credit_inspection_one_scheduled_periodic",
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.due_on}"


class InspectionItem(models.Model):
    """One line of an inspection's checklist, with its finding."""

    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="items")
    code = models.CharField(_("检查项"), max_length=32)
    label = models.CharField(_("检查内容"), max_length=120)
    result = models.CharField(_("结果"), max_length=8, choices=ItemResult.choices, blank=True)
    finding = models.TextField(_("发现问题"), blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["inspection", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["inspection", "code"], name="credit_inspection_item_code_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.inspection_id} {self.code}"


class RectificationNotice(models.Model):
    """限期整改通知书: what must be put right by when. Not done by its deadline, it becomes a
    `rectification_overdue` event by itself (the daily job)."""

    inspection = models.OneToOneField(Inspection, on_delete=models.PROTECT, related_name="notice")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="+")
    number = models.CharField(_("通知书编号"), max_length=24, unique=True)
    requirements = models.TextField(_("整改要求"))
    issued_on = models.DateField(_("下达日期"))
    deadline = models.DateField(_("整改期限"))
    status = models.CharField(
        _("状态"), max_length=8, choices=NoticeStatus.choices, default=NoticeStatus.OPEN
    )
    done_on = models.DateField(_("整改完成日期"), null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["deadline", "id"]
        indexes = [models.Index(fields=["status", "deadline"])]

    def __str__(self) -> str:
        return self.number


class CreditRun(models.Model):
    """A rating run: monthly over every customer (the scheduler) or on demand for one customer."""

    kind = models.CharField(_("类型"), max_length=8, choices=RunKind.choices)
    period = models.CharField(_("评价月份"), max_length=7)  # YYYY-MM of as_of
    as_of = models.DateField(_("评价基准日"))
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(_("状态"), max_length=8, choices=RunStatus.choices, default=RunStatus.PENDING)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    customers_rated = models.PositiveIntegerField(_("评价客户数"), default=0)
    reasons_stored = models.PositiveIntegerField(_("存储理由数"), default=0)
    grade_counts = models.JSONField(_("等级分布"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-as_of", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["period"],
                condition=Q(kind="monthly") & ~Q(status="failed"),
                name="credit_run_one_monthly_per_period",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.as_of}"


class CreditScore(models.Model):  # noqa: DJ008
    """One customer's rating in one run: the six dimensions (null where the class has none), total and grade.

    A monthly run writes a million of these with COPY: no database-level references on customer and run (the
    run owns its rows; customers are never deleted). `reasons` is stored when the customer's reasons changed
    since its previous score; otherwise `reasons_from` points at the score that stored them."""

    run = models.ForeignKey(CreditRun, on_delete=models.PROTECT, related_name="scores", db_constraint=False)
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.PROTECT,
        related_name="credit_scores",
        db_constraint=False,
        db_index=False,
    )
    unit_id_at = models.IntegerField()  # the customer's unit when rated (reports by unit; no reference)
    as_of = models.DateField()
    rated_class = models.CharField(max_length=8, choices=RatedClass.choices)
    payment = models.DecimalField(**SCORE)
    safety = models.DecimalField(null=True, **SCORE)
    legal = models.DecimalField(**SCORE)
    cooperation = models.DecimalField(null=True, **SCORE)
    conduct = models.DecimalField(null=True, **SCORE)
    potential = models.DecimalField(null=True, **SCORE)
    total = models.DecimalField(**SCORE)
    grade = models.CharField(max_length=3, choices=Grade.choices)
    digest = models.CharField(max_length=16)  # of the reasons: equal digests, equal reasons
    reasons = models.JSONField(null=True)
    reasons_from = models.ForeignKey(
        "self", null=True, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["customer", "as_of"], name="credit_score_customer_asof"),
            models.Index(fields=["run", "grade"], name="credit_score_run_grade"),
        ]


class CreditStanding(models.Model):  # noqa: DJ008
    """Each rated customer's current grade: its latest score (monthly or on-demand run). What the services and
    the customer page read."""

    customer = models.OneToOneField(
        "customers.Customer", primary_key=True, on_delete=models.CASCADE, related_name="credit_standing"
    )
    score = models.ForeignKey(CreditScore, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    unit_id_at = models.IntegerField()
    grade = models.CharField(max_length=3, choices=Grade.choices)
    total = models.DecimalField(**SCORE)
    as_of = models.DateField()
    previous_grade = models.CharField(max_length=3, choices=Grade.choices, blank=True)
    changed_on = models.DateField(null=True, blank=True)  # when the grade last changed

    class Meta:
        indexes = [models.Index(fields=["grade", "unit_id_at"], name="credit_standing_grade_unit")]


# The fields a CreditScore stores per dimension, in the rating's order.
DIMENSION_FIELDS = ["payment", "safety", "legal", "cooperation", "conduct", "potential"]
