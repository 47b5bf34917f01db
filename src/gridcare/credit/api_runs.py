"""Credit API of the rating runs and on-site assessments (issue 17 §3), scoped by the customer's unit subtree.

- `GET /credit/customers/{customer_id}`: the current standing (grade, total, dimensions with reasons and their
  event ids, measures of the grade, as_of) and the last 24 scores (credit.view; 404 out of scope).
- `POST /credit/customers/{customer_id}/rate` {as_of?}: rate the customer now (credit.record; returns the score).
- `GET /credit/runs?kind=&page=&page_size=`, `GET /credit/runs/{run_id}`; `POST /credit/runs` {as_of?}: start the
  month's run (credit.admin; a month that already has one is a 422 on as_of).
- `GET /credit/assessments?status=&customer_id=&page=&page_size=`, `GET /credit/assessments/due?page=&page_size=`,
  `POST /credit/assessments` {customer_id, conduct, potential, assessed_on, note} (credit.assess),
  `POST /credit/assessments/{assessment_id}/review` {decision: approve|reject, note} (credit.approve, not the
  assessor).
Bad input answers 422 naming the field; missing and forbidden objects the same 404."""

from datetime import date
from decimal import Decimal
from typing import Literal

from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from gridcare.core.api import (
    CONFLICT_ERRORS,
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    PageParams,
    Text,
    api_actor,
    paginate,
    require_perm,
)
from gridcare.core.masking import mask_customer_name
from gridcare.core.permissions import Perm
from gridcare.core.scoping import PermissionDenied

from . import assessments as svc
from . import runs
from . import standing as sel
from .choices import AssessmentStatus, RunKind

router = Router(tags=["credit"])


# ---------------------------------------------------------------- customer credit


class CreditReasonOut(Schema):
    code: str
    label: str
    date: date | None
    points: Decimal | None
    event_id: int | None


class CreditDimensionOut(Schema):
    name: str
    label: str
    score: Decimal
    max: Decimal
    reasons: list[CreditReasonOut]


class CreditMeasureOut(Schema):
    code: str
    label: str


class CreditHistoryOut(Schema):
    as_of: date
    total: Decimal
    grade: str
    run_id: int


class CreditCustomerOut(Schema):
    customer_id: int
    rated: bool
    grade: str | None
    total: Decimal | None
    as_of: date | None
    rated_class: str | None
    previous_grade: str | None
    changed_on: date | None
    score_id: int | None
    dimensions: list[CreditDimensionOut]
    measures: list[CreditMeasureOut]
    history: list[CreditHistoryOut]


def _reason(r: dict) -> dict:
    day = r.get("date")
    pts = r.get("points")
    return {
        "code": r.get("code", ""),
        "label": r.get("label", ""),
        "date": date.fromisoformat(day) if day else None,
        "points": Decimal(str(pts)) if pts is not None else None,
        "event_id": r.get("event_id"),
    }


def credit_out(view: sel.CreditView) -> dict:
    st, sc = view.standing, view.score
    return {
        "customer_id": view.customer_id,
        "rated": st is not None,
        "grade": st.grade if st else None,
        "total": st.total if st else None,
        "as_of": st.as_of if st else None,
        "rated_class": sc.rated_class if sc else None,
        "previous_grade": (st.previous_grade or None) if st else None,
        "changed_on": st.changed_on if st else None,
        "score_id": st.score_id if st else None,
        "dimensions": [
            {
                "name": d.name,
                "label": d.label,
                "score": d.score,
                "max": d.max,
                "reasons": [_reason(r) for r in d.reasons],
            }
            for d in view.dimensions
        ],
        "measures": [{"code": c, "label": lbl} for c, lbl in view.measures],
        "history": view.history,
    }


@router.get("/credit/customers/{customer_id}", response={200: CreditCustomerOut, **READ_ERRORS})
def credit_customer(request, customer_id: int):
    customer = sel.customer_for(request.user, customer_id)
    if customer is None:
        raise Http404
    return credit_out(sel.credit_view(customer.pk))


class CreditRateIn(Schema):
    as_of: date | None = Field(None, description="评价基准日，默认今天")


class CreditScoreOut(Schema):
    id: int
    run_id: int
    customer_id: int
    as_of: date
    rated_class: str
    payment: Decimal
    safety: Decimal | None
    legal: Decimal
    cooperation: Decimal | None
    conduct: Decimal | None
    potential: Decimal | None
    total: Decimal
    grade: str


@router.post("/credit/customers/{customer_id}/rate", response={200: CreditScoreOut, **WRITE_ERRORS})
def credit_customer_rate(request, customer_id: int, payload: CreditRateIn):
    customer = sel.customer_for(request.user, customer_id, Perm.CREDIT_RECORD)
    if customer is None:
        raise Http404
    as_of = payload.as_of or timezone.localdate()
    return runs.customer_rate(
        actor=api_actor(request), customer=customer, as_of=as_of
    )  # refuses a future as_of


# ---------------------------------------------------------------- runs


class CreditRunOut(Schema):
    id: int
    kind: str
    period: str
    as_of: date
    customer_id: int | None
    status: str
    job_id: int | None
    customers_rated: int
    reasons_stored: int
    grade_counts: dict[str, int]
    error: str


class CreditRunPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[CreditRunOut]


class CreditRunFilter(Schema):
    kind: Literal["monthly", "single"] | None = Field(None, description="monthly 月度评价 / single 单户评价")


def _run(r) -> dict:
    return {
        "id": r.pk,
        "kind": r.kind,
        "period": r.period,
        "as_of": r.as_of,
        "customer_id": r.customer_id,
        "status": r.status,
        "job_id": r.job_id,
        "customers_rated": r.customers_rated,
        "reasons_stored": r.reasons_stored,
        "grade_counts": {k: int(v) for k, v in (r.grade_counts or {}).items()},
        "error": r.error if r.status == "failed" else "",
    }


@router.get("/credit/runs", response={200: CreditRunPage, **LIST_ERRORS})
def credit_runs(request, filters: Query[CreditRunFilter], paging: Query[PageParams]):
    require_perm(request, Perm.CREDIT_VIEW)
    qs = sel.runs_for(request.user).order_by("-created_at", "-id")
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    return paginate(qs, paging, _run)


class CreditRunIn(Schema):
    as_of: date | None = Field(None, description="评价基准日，默认上月最后一天")


def monthly_run_submit(*, actor, as_of: date | None):
    """Create the month's run and start its job (on a worker, or here when jobs run eagerly)."""
    from gridcare.jobs import services as jobs

    with transaction.atomic():
        run = runs.monthly_run_create(actor=actor, as_of=as_of)
        jobs.start("credit.monthly_run", {"run_id": run.pk}, actor=actor)
    run.refresh_from_db()
    return run


@router.post("/credit/runs", response={200: CreditRunOut, **LIST_ERRORS, **CONFLICT_ERRORS})
def credit_run_start(request, payload: CreditRunIn):
    require_perm(request, Perm.CREDIT_ADMIN)
    from gridcare.jobs.services import BrokerUnavailable

    try:
        run = monthly_run_submit(actor=api_actor(request), as_of=payload.as_of)
    except BrokerUnavailable:
        raise HttpError(409, _("任务队列暂不可用，请稍后再试")) from None
    return _run(run)


@router.get("/credit/runs/{run_id}", response={200: CreditRunOut, **READ_ERRORS})
def credit_run(request, run_id: int):
    run = sel.run_for(request.user, run_id)
    if run is None:
        raise Http404
    return _run(run)


# ---------------------------------------------------------------- assessments


class CreditAssessmentOut(Schema):
    id: int
    customer_id: int
    customer_name: str
    conduct: Decimal
    potential: Decimal
    assessed_on: date
    note: str
    assessed_by: str | None
    status: str
    reviewed_by: str | None
    review_note: str


class CreditAssessmentPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[CreditAssessmentOut]


class CreditAssessmentFilter(Schema):
    status: Literal["pending", "approved", "rejected"] | None = None
    customer_id: int | None = Field(None, ge=1, le=2**62)


def _assessment(a) -> dict:
    return {
        "id": a.pk,
        "customer_id": a.customer_id,
        "customer_name": mask_customer_name(a.customer.name, a.customer.kind),
        "conduct": a.conduct,
        "potential": a.potential,
        "assessed_on": a.assessed_on,
        "note": a.note,
        "assessed_by": a.assessed_by.get_username() if a.assessed_by else None,
        "status": a.status,
        "reviewed_by": a.reviewed_by.get_username() if a.reviewed_by else None,
        "review_note": a.review_note,
    }


@router.get("/credit/assessments", response={200: CreditAssessmentPage, **LIST_ERRORS})
def credit_assessments(request, filters: Query[CreditAssessmentFilter], paging: Query[PageParams]):
    require_perm(request, Perm.CREDIT_VIEW)
    qs = svc.assessments_for(request.user).order_by("-assessed_on", "-id")
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.customer_id:
        qs = qs.filter(customer_id=filters.customer_id)
    return paginate(qs, paging, _assessment)


class CreditDueOut(Schema):
    customer_id: int
    customer_name: str
    customer_class: str
    last_assessed: date | None


class CreditDuePage(Schema):
    count: int
    page: int
    page_size: int
    items: list[CreditDueOut]


@router.get("/credit/assessments/due", response={200: CreditDuePage, **LIST_ERRORS})
def credit_assessments_due(request, paging: Query[PageParams]):
    require_perm(request, Perm.CREDIT_VIEW)
    qs = svc.assessments_due(request.user, timezone.localdate())
    return paginate(
        qs,
        paging,
        lambda c: {
            "customer_id": c.pk,
            "customer_name": mask_customer_name(c.name, c.kind),
            "customer_class": c.customer_class,
            "last_assessed": c.last_assessed,
        },
    )


class CreditAssessmentIn(Schema):
    customer_id: int = Field(..., ge=1, le=2**62)
    conduct: Decimal = Field(..., ge=0, le=5, max_digits=2, decimal_places=1, allow_inf_nan=False)
    potential: Decimal = Field(..., ge=0, le=5, max_digits=2, decimal_places=1, allow_inf_nan=False)
    assessed_on: date
    note: Text = Field("", max_length=2000)


@router.post("/credit/assessments", response={200: CreditAssessmentOut, **WRITE_ERRORS})
def credit_assessment_create(request, payload: CreditAssessmentIn):
    require_perm(request, Perm.CREDIT_ASSESS)
    customer = sel.customer_for(request.user, payload.customer_id, Perm.CREDIT_ASSESS)
    if customer is None:
        raise Http404
    try:
        a = svc.assessment_create(
            actor=api_actor(request),
            customer=customer,
            conduct=payload.conduct,
            potential=payload.potential,
            assessed_on=payload.assessed_on,
            note=payload.note,
        )
    except PermissionDenied:
        raise Http404 from None
    return _assessment(a)


class CreditAssessmentReviewIn(Schema):
    decision: Literal["approve", "reject"]
    note: Text = Field("", max_length=200)


@router.post(
    "/credit/assessments/{assessment_id}/review", response={200: CreditAssessmentOut, **WRITE_ERRORS}
)
def credit_assessment_review(request, assessment_id: int, payload: CreditAssessmentReviewIn):
    if not 0 < assessment_id < 2**63:
        raise Http404
    a = (
        svc.assessments_for(request.user)
        .filter(pk=assessment_id, status__in=[s.value for s in AssessmentStatus])
        .first()
    )
    if a is None:
        raise Http404
    try:
        a = svc.assessment_review(
            actor=api_actor(request), assessment=a, approve=payload.decision == "approve", note=payload.note
        )
    except PermissionDenied:
        raise Http404 from None
    return _assessment(a)


__all__ = ["router", "RunKind"]
