"""On-site assessments (issue 17 §3): the customer manager (营销服务员, `credit.assess`) enters a 动力户's 经营行为 and
发展潜力 (0–5, one decimal) after a visit; a supervisor (`credit.approve`, never the assessor) approves it or returns
it with a note. The latest approved one on or before a run's as_of counts; none ever counts 0.

- `assessment_create` (audited `credit.assessment_create`), `assessment_review` (`credit.assessment_review`);
- `assessments_for(user)`: the assessments the user may see (credit.view, the customer's unit subtree);
- `assessments_due(user, today)`: 动力户 in scope whose last approved assessment is older than the policy's
  `assessment_months` (or who never had one), longest overdue first.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.permissions import Perm
from gridcare.core.scoping import require_unit, restrict
from gridcare.customers.models import Customer

from . import policy as credit_policy
from .choices import AssessmentStatus, RatedClass
from .models import SiteAssessment
from .rules import months_back

TENTH = Decimal("0.1")
NOTE_MAX = 2000
REVIEW_NOTE_MAX = 200


def score_value(raw, field: str) -> Decimal:
    """A conduct/potential value: a number from 0 to 5 with at most one decimal (ValidationError on `field`)."""
    if isinstance(raw, bool) or raw is None or raw == "":
        raise ValidationError({field: [_("请填写 0–5 之间的分数")]})
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError({field: [_("应为 0–5 之间的数字")]}) from None
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(5):
        raise ValidationError({field: [_("应在 0 与 5 之间")]})
    if value != value.quantize(TENTH):
        raise ValidationError({field: [_("最多保留一位小数")]})
    return value.quantize(TENTH)


def assessment_create(
    *,
    actor: Actor,
    customer: Customer,
    conduct,
    potential,
    assessed_on: date,
    note: str = "",
    today: date | None = None,
    now: datetime | None = None,
) -> SiteAssessment:
    """A pending assessment of a 动力户 in the actor's units (PermissionDenied otherwise: answered as not found).
    A 照明户 is refused: it is rated on payment and legal only."""
    require_unit(actor, customer.unit_id, Perm.CREDIT_ASSESS)
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    errors: dict[str, list[str]] = {}
    if credit_policy.rated_class_for(customer.customer_class) != RatedClass.POWER:
        errors["customer_id"] = [_("照明户不做经营行为和发展潜力评估")]
    values = {}
    for name, raw in (("conduct", conduct), ("potential", potential)):
        try:
            values[name] = score_value(raw, name)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if not isinstance(assessed_on, date):
        errors["assessed_on"] = [_("请填写评估日期")]
    elif assessed_on > today:
        errors["assessed_on"] = [_("评估日期不能晚于今天")]
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        errors["note"] = [_("调研情况不能超过 %(n)s 字") % {"n": NOTE_MAX}]
    if errors:
        raise ValidationError(errors)
    user = actor.user if actor.user is not None and getattr(actor.user, "is_authenticated", False) else None
    with transaction.atomic():
        a = SiteAssessment.objects.create(
            customer=customer,
            unit_id=customer.unit_id,
            conduct=values["conduct"],
            potential=values["potential"],
            assessed_on=assessed_on,
            note=note,
            assessed_by=user,
            status=AssessmentStatus.PENDING,
            created_at=now,
        )
        audit_record(
            actor=actor,
            action="credit.assessment_create",
            obj=a,
            customer_id=customer.pk,
            unit_id=customer.unit_id,
            changes={
                "conduct": str(a.conduct),
                "potential": str(a.potential),
                "assessed_on": assessed_on.isoformat(),
            },
        )
    return a


def assessment_review(
    *, actor: Actor, assessment: SiteAssessment, approve: bool, note: str = "", now: datetime | None = None
) -> SiteAssessment:
    """Approve, or return with a note, a pending assessment: a supervisor (credit.approve) of the customer's unit
    who is not its assessor."""
    require_unit(actor, assessment.unit_id, Perm.CREDIT_APPROVE)
    now = now or timezone.now()
    note = (note or "").strip()
    user = actor.user if actor.user is not None and getattr(actor.user, "is_authenticated", False) else None
    with transaction.atomic():
        a = SiteAssessment.objects.select_for_update().get(pk=assessment.pk)
        if a.status != AssessmentStatus.PENDING:
            raise ValidationError({"status": [_("该评估已复核（%(s)s）") % {"s": a.get_status_display()}]})
        if user is not None and a.assessed_by_id == user.pk:
            raise ValidationError({"decision": [_("评估人不能复核自己的评估")]})
        if len(note) > REVIEW_NOTE_MAX:
            raise ValidationError({"note": [_("复核意见不能超过 %(n)s 字") % {"n": REVIEW_NOTE_MAX}]})
        if not approve and not note:
            raise ValidationError({"note": [_("退回时请填写复核意见")]})
        a.status = AssessmentStatus.APPROVED if approve else AssessmentStatus.REJECTED
        a.reviewed_by = user
        a.reviewed_at = now
        a.review_note = note
        a.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
        audit_record(
            actor=actor,
            action="credit.assessment_review",
            obj=a,
            customer_id=a.customer_id,
            unit_id=a.unit_id,
            changes={"decision": a.status, **({"note": note} if note else {})},
        )
    return a


# ---------------------------------------------------------------- selectors


def assessments_for(user) -> QuerySet[SiteAssessment]:
    return restrict(SiteAssessment.objects.all(), user, Perm.CREDIT_VIEW).select_related(
        "customer", "assessed_by", "reviewed_by"
    )


def latest_approved(customer_id: int, as_of: date) -> SiteAssessment | None:
    return (
        SiteAssessment.objects.filter(
            customer_id=customer_id, status=AssessmentStatus.APPROVED, assessed_on__lte=as_of
        )
        .order_by("-assessed_on", "-id")
        .first()
    )


def assessments_due(user, today: date) -> QuerySet[Customer]:
    """动力户 in the user's units (credit.view) whose last approved assessment is on or before today minus the
    policy's assessment_months, or who never had one; annotated `last_assessed`, never-assessed first."""
    pol = credit_policy.current_policy()
    cutoff = months_back(today, pol.assessment_months)
    qs = (
        restrict(Customer.objects.all(), user, Perm.CREDIT_VIEW)
        .exclude(customer_class__in=list(pol.lighting_classes or []))
        .annotate(
            last_assessed=Max(
                "site_assessments__assessed_on",
                filter=Q(site_assessments__status=AssessmentStatus.APPROVED),
            )
        )
        .filter(Q(last_assessed__isnull=True) | Q(last_assessed__lte=cutoff))
    )
    return qs.order_by("last_assessed", "id")
