"""Credit API of 用电检查 (issue 17 §2), scoped by the inspection's unit subtree.

- `GET /credit/inspections?status=&due_before=&due_after=&inspector=me&customer_id=&page=&page_size=` (credit.view;
  another role 403): inspections, due day first, paginated; `overdue` marks a scheduled one past its due day.
- `GET /credit/inspections/{inspection_id}`: one inspection with its checklist, notice and events (404 out of scope).
- `POST /credit/inspections` {customer_id, due_on, note?}: a special inspection (credit.record; another role 403; a
  customer missing or outside the caller's units 404).
- `POST /credit/inspections/{inspection_id}/perform` {items: [{code, result: ok|defect|na, finding}], summary,
  performed_on, unqualified_electricians?}: record the checklist; defects of mapped items become pending events.
- `POST /credit/inspections/{inspection_id}/refused` {performed_on, note?}: the customer refused; a pending
  `inspection_refused` event.
- `POST /credit/inspections/{inspection_id}/notice` {requirements?, deadline?}: issue the 限期整改通知书.
- `GET /credit/notices?status=&customer_id=&page=&page_size=` (credit.view): rectification notices, by deadline.
- `POST /credit/notices/{notice_id}/done` {done_on}: the rectification verified done.

Writes need credit.record on the object's unit: without it the object answers 404, as a missing one. Bad input is
422 naming the field."""

from datetime import date, datetime
from typing import Literal

from django.http import Http404
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from gridcare.core.api import LIST_ERRORS, READ_ERRORS, WRITE_ERRORS, Text, api_actor, paginate, require_perm
from gridcare.core.permissions import Perm

from . import inspections as svc
from .choices import InspectionStatus
from .models import Inspection, RectificationNotice

router = Router(tags=["credit"])

ID = Field(..., ge=1, le=2**62)


class CreditInspectionFilter(Schema):
    status: Literal["scheduled", "done", "refused", "cancelled"] | None = Field(None, description="状态")
    due_before: date | None = Field(None, description="应检日期不晚于（含）")
    due_after: date | None = Field(None, description="应检日期不早于（含）")
    inspector: Literal["me"] | None = Field(None, description="me：本人检查或负责的")
    customer_id: int | None = Field(None, ge=1, le=2**62, description="客户 id")
    page: int = Field(1, ge=1, le=1_000_000, description="页码，从 1 开始")
    page_size: int = Field(50, ge=1, le=200, description="每页条数（最多 200）")


class CreditInspectionNoticeFilter(Schema):
    status: Literal["open", "done", "overdue"] | None = Field(None, description="状态")
    customer_id: int | None = Field(None, ge=1, le=2**62, description="客户 id")
    page: int = Field(1, ge=1, le=1_000_000, description="页码，从 1 开始")
    page_size: int = Field(50, ge=1, le=200, description="每页条数（最多 200）")


class CreditInspectionItemOut(Schema):
    code: str
    label: str
    result: str
    finding: str


class CreditInspectionNoticeOut(Schema):
    id: int
    number: str
    inspection_id: int
    customer_id: int
    customer_name: str
    requirements: str
    issued_on: date
    deadline: date
    status: str
    done_on: date | None
    verified_by_id: int | None


class CreditInspectionEventOut(Schema):
    id: int
    code: str
    status: str
    date: date
    count: int | None


class CreditInspectionOut(Schema):
    id: int
    customer_id: int
    customer_name: str
    unit_id: int
    unit: str
    kind: str
    inspection_class: str
    due_on: date
    status: str
    overdue: bool
    inspector_id: int | None
    inspector: str | None
    performed_on: date | None
    summary: str
    notice_id: int | None
    updated_at: datetime


class CreditInspectionDetailOut(CreditInspectionOut):
    items: list[CreditInspectionItemOut]
    notice: CreditInspectionNoticeOut | None
    events: list[CreditInspectionEventOut]


class CreditInspectionPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[CreditInspectionOut]


class CreditInspectionNoticePage(Schema):
    count: int
    page: int
    page_size: int
    items: list[CreditInspectionNoticeOut]


class CreditInspectionCreateIn(Schema):
    customer_id: int = ID
    due_on: date = Field(..., description="应检日期")
    note: Text = Field("", max_length=500, description="检查事由")


class CreditInspectionItemIn(Schema):
    code: Text = Field(..., max_length=32, description="检查项代码，见默认检查表")
    result: Literal["ok", "defect", "na"]
    finding: Text = Field("", max_length=2000, description="发现的问题（存在问题时必填）")


class CreditInspectionPerformIn(Schema):
    items: list[CreditInspectionItemIn] = Field(..., max_length=50)
    summary: Text = Field("", max_length=2000, description="检查结论")
    performed_on: date = Field(..., description="检查日期（不晚于今天）")
    unqualified_electricians: int | None = Field(
        None, ge=1, le=999, description="不符合要求的进网作业电工人数（该项存在问题时必填）"
    )


class CreditInspectionRefuseIn(Schema):
    performed_on: date = Field(..., description="到场日期（不晚于今天）")
    note: Text = Field("", max_length=2000, description="情况说明")


class CreditInspectionNoticeIn(Schema):
    requirements: Text = Field("", max_length=2000, description="整改要求；空则按存在问题的检查项生成")
    deadline: date | None = Field(None, description="整改期限；默认检查日期 + 默认整改天数")


class CreditInspectionNoticeDoneIn(Schema):
    done_on: date = Field(..., description="整改完成日期（不晚于今天）")


def _inspector_name(user) -> str | None:
    if user is None:
        return None
    return getattr(user, "display_name", "") or user.get_username()


def _notice_id(i: Inspection) -> int | None:
    try:
        return i.notice.pk
    except RectificationNotice.DoesNotExist:
        return None


def _row(i: Inspection, today: date) -> dict:
    return {
        "id": i.pk,
        "customer_id": i.customer_id,
        "customer_name": i.customer.name,
        "unit_id": i.unit_id,
        "unit": i.unit.name,
        "kind": i.kind,
        "inspection_class": i.inspection_class,
        "due_on": i.due_on,
        "status": i.status,
        "overdue": i.status == InspectionStatus.SCHEDULED and i.due_on < today,
        "inspector_id": i.inspector_id,
        "inspector": _inspector_name(i.inspector),
        "performed_on": i.performed_on,
        "summary": i.summary,
        "notice_id": _notice_id(i),
        "updated_at": i.updated_at,
    }


def _notice(n: RectificationNotice) -> dict:
    return {
        "id": n.pk,
        "number": n.number,
        "inspection_id": n.inspection_id,
        "customer_id": n.customer_id,
        "customer_name": n.customer.name,
        "requirements": n.requirements,
        "issued_on": n.issued_on,
        "deadline": n.deadline,
        "status": n.status,
        "done_on": n.done_on,
        "verified_by_id": n.verified_by_id,
    }


def _detail(request, inspection_id: int) -> dict:
    i = svc.inspection_for(request.user, inspection_id)
    if i is None:
        raise Http404
    today = timezone.localdate()
    notice = svc.notices_for(request.user).filter(inspection=i).first()
    return {
        **_row(i, today),
        "items": [
            {"code": r["code"], "label": r["label"], "result": r["result"], "finding": r["finding"]}
            for r in svc.item_rows(i)
        ],
        "notice": _notice(notice) if notice else None,
        "events": [
            {"id": e.pk, "code": e.code, "status": e.status, "date": e.date, "count": e.count}
            for e in i.events.order_by("id")
        ],
    }


def _inspection_or_404(request, inspection_id: int) -> Inspection:
    i = svc.inspection_for(request.user, inspection_id)
    if i is None:
        raise Http404
    return i


@router.get("/credit/inspections", response={200: CreditInspectionPage, **LIST_ERRORS})
def credit_inspections(request, filters: Query[CreditInspectionFilter]):
    require_perm(request, Perm.CREDIT_VIEW)
    today = timezone.localdate()
    qs = svc.inspections_filter(
        svc.inspections_for(request.user),
        user=request.user,
        status=filters.status,
        due_before=filters.due_before,
        due_after=filters.due_after,
        mine=filters.inspector == "me",
        customer_id=filters.customer_id,
    ).order_by("due_on", "id")
    return paginate(qs, filters, lambda i: _row(i, today))


@router.get("/credit/inspections/{inspection_id}", response={200: CreditInspectionDetailOut, **READ_ERRORS})
def credit_inspection(request, inspection_id: int):
    return _detail(request, inspection_id)


@router.post("/credit/inspections", response={201: CreditInspectionDetailOut, **WRITE_ERRORS})
def credit_inspection_create(request, payload: CreditInspectionCreateIn):
    require_perm(request, Perm.CREDIT_RECORD)
    i = svc.inspection_create(
        actor=api_actor(request), customer_id=payload.customer_id, due_on=payload.due_on, note=payload.note
    )
    return Status(201, _detail(request, i.pk))


@router.post(
    "/credit/inspections/{inspection_id}/perform", response={200: CreditInspectionDetailOut, **WRITE_ERRORS}
)
def credit_inspection_perform(request, inspection_id: int, payload: CreditInspectionPerformIn):
    i = _inspection_or_404(request, inspection_id)
    svc.inspection_perform(
        actor=api_actor(request),
        inspection=i,
        items=[svc.ItemAnswer(a.code, a.result, a.finding) for a in payload.items],
        summary=payload.summary,
        performed_on=payload.performed_on,
        unqualified_electricians=payload.unqualified_electricians,
    )
    return _detail(request, i.pk)


@router.post(
    "/credit/inspections/{inspection_id}/refused", response={200: CreditInspectionDetailOut, **WRITE_ERRORS}
)
def credit_inspection_refused(request, inspection_id: int, payload: CreditInspectionRefuseIn):
    i = _inspection_or_404(request, inspection_id)
    svc.inspection_refuse(
        actor=api_actor(request), inspection=i, performed_on=payload.performed_on, note=payload.note
    )
    return _detail(request, i.pk)


@router.post(
    "/credit/inspections/{inspection_id}/notice", response={201: CreditInspectionNoticeOut, **WRITE_ERRORS}
)
def credit_inspection_notice(request, inspection_id: int, payload: CreditInspectionNoticeIn):
    i = _inspection_or_404(request, inspection_id)
    n = svc.notice_issue(
        actor=api_actor(request), inspection=i, requirements=payload.requirements, deadline=payload.deadline
    )
    return Status(201, _notice(svc.notices_for(request.user).get(pk=n.pk)))


@router.get("/credit/notices", response={200: CreditInspectionNoticePage, **LIST_ERRORS})
def credit_notices(request, filters: Query[CreditInspectionNoticeFilter]):
    require_perm(request, Perm.CREDIT_VIEW)
    qs = svc.notices_for(request.user)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.customer_id:
        qs = qs.filter(customer_id=filters.customer_id)
    return paginate(qs.order_by("deadline", "id"), filters, _notice)


@router.post("/credit/notices/{notice_id}/done", response={200: CreditInspectionNoticeOut, **WRITE_ERRORS})
def credit_notice_done(request, notice_id: int, payload: CreditInspectionNoticeDoneIn):
    n = svc.notice_for(request.user, notice_id)
    if n is None:
        raise Http404
    svc.notice_done(actor=api_actor(request), notice=n, done_on=payload.done_on)
    return _notice(svc.notices_for(request.user).get(pk=n.pk))
