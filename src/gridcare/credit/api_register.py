"""API of the credit-event register (issue 17 §1).

Staff (`credit.view` to read, scoped to the unit subtree; a role without the permission gets 403 on collection
routes, and any object outside the caller's units answers 404 like a missing one):
- `GET /credit/events?customer_id=&status=&code=&source=&date_from=&date_to=&page=&page_size=` — the register;
- `GET /credit/events/{event_id}` — one event with its evidence and contests;
- `GET /credit/events/{event_id}/evidence/{evidence_id}` — an evidence file;
- `POST /credit/events` (credit.record on the customer's unit) — record an event, pending approval;
- `POST /credit/events/{event_id}/evidence` (multipart `file`; credit.record) — PDF/JPG/PNG, ≤ 10 MB;
- `POST /credit/events/{event_id}/approve | reject | confirm | dismiss` (credit.approve; approve/reject never by
  the recorder);
- `POST /credit/events/{event_id}/contest` (credit.contest, or the customer's manager);
- `GET /credit/contests?status=&page=&page_size=`, `POST /credit/contests/{contest_id}/decide` (credit.approve,
  never the person who raised it).
Portal customers (403 for anyone else):
- `GET /my/credit/events` — the events of their customers that count or are contested;
- `POST /my/credit/events/{event_id}/contest`.
Bad input answers 422 naming the field; nothing is written."""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.utils.translation import gettext as _
from ninja import Field, File, Query, Router, Schema, Status, UploadedFile
from ninja.errors import HttpError

from gridcare.core.api import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    PageParams,
    Text,
    api_actor,
    paginate,
    require_perm,
)
from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.masking import mask_customer_name
from gridcare.core.permissions import Perm, is_customer

from . import selectors, services
from .choices import DIMENSION_OF, ContestStatus, EventCode, EventSource, EventStatus
from .models import CreditContest, CreditEvent, CreditEvidence

router = Router(tags=["credit"])


class CreditEvidenceOut(Schema):
    id: int
    name: str
    size: int
    uploaded_at: datetime


class CreditContestOut(Schema):
    id: int
    event_id: int
    channel: str
    channel_label: str
    reason: str
    raised_by: str | None
    raised_at: datetime
    status: str
    status_label: str
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str


class CreditRegisterEventOut(Schema):
    id: int
    customer_id: int
    customer_name: str
    account_id: int | None
    account_number: str | None
    unit_id: int
    code: str
    code_label: str
    dimension: str
    date: Date
    severity: int | None
    count: int | None
    source: str
    source_label: str
    status: str
    status_label: str
    description: str
    inspector: str | None
    recorded_by: str | None
    recorded_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str
    status_before_contest: str


class CreditRegisterEventDetailOut(CreditRegisterEventOut):
    evidence: list[CreditEvidenceOut]
    contests: list[CreditContestOut]


class CreditRegisterEventPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[CreditRegisterEventOut]


class CreditContestPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[CreditContestOut]


class CreditRegisterEventFilter(Schema):
    customer_id: int | None = Field(None, description="客户 id")
    status: Text = Field("", max_length=12, description="状态：candidate/pending/active/contested/…")
    code: Text = Field("", max_length=32, description="事件代码，如 arrears、theft")
    source: Text = Field("", max_length=12, description="来源：ledger/withholding/staff/inspection")
    date_from: Date | None = Field(None, description="发生日期起（含）")
    date_to: Date | None = Field(None, description="发生日期止（含）")


class CreditContestFilter(Schema):
    status: Text = Field("", max_length=10, description="open/upheld/annulled")


class CreditRegisterRecordIn(Schema):
    customer_id: int = Field(..., description="客户 id")
    code: Text = Field(..., max_length=32, description="事件代码（可人工登记的）")
    date: Date = Field(..., description="发生日期（不晚于今天）")
    count: int | None = Field(None, description="人次（仅进网作业电工资格不符，≥ 1）")
    severity: int | None = Field(None, description="人工登记不填（仅账务派生的欠费事件有严重程度）")
    description: Text = Field("", max_length=2000, description="情况说明")
    inspector_id: int | None = Field(None, description="检查人（员工用户 id，可选）")


class CreditRegisterNoteIn(Schema):
    note: Text = Field("", max_length=200, description="意见（可选）")


class CreditRegisterReasonIn(Schema):
    reason: Text = Field(..., max_length=1000, description="理由")


class CreditRegisterDismissIn(Schema):
    note: Text = Field(..., max_length=200, description="不予确认的理由")


class CreditContestDecideIn(Schema):
    decision: Literal["upheld", "annulled"] = Field(
        ..., description="upheld 维持原记录 / annulled 撤销该记录"
    )
    note: Text = Field(..., max_length=1000, description="处理意见")


def _name(user) -> str | None:
    return user.get_username() if user is not None else None


def contest_row(c: CreditContest) -> dict[str, Any]:
    return {
        "id": c.pk,
        "event_id": c.event_id,
        "channel": c.channel,
        "channel_label": c.get_channel_display(),
        "reason": c.reason,
        "raised_by": _name(c.raised_by),
        "raised_at": c.raised_at,
        "status": c.status,
        "status_label": c.get_status_display(),
        "decided_by": _name(c.decided_by),
        "decided_at": c.decided_at,
        "decision_note": c.decision_note,
    }


def event_row(e: CreditEvent, *, mask: bool = True, portal: bool = False) -> dict[str, Any]:
    """One event; for the portal (`portal`) the customer's own name in full and no staff user names."""
    c = e.customer
    # The portal shows no staff names: the users are not even read (no query per row), nor the internal note.
    staff = (lambda attr: None) if portal else (lambda attr: _name(getattr(e, attr)))
    return {
        "id": e.pk,
        "customer_id": e.customer_id,
        "customer_name": c.name if portal or not mask else mask_customer_name(c.name, c.kind),
        "account_id": e.account_id,
        "account_number": e.account.account_number if e.account_id else None,
        "unit_id": e.unit_id,
        "code": e.code,
        "code_label": e.get_code_display(),
        "dimension": str(DIMENSION_OF.get(e.code, "")),
        "date": e.date,
        "severity": e.severity,
        "count": e.count,
        "source": e.source,
        "source_label": e.get_source_display(),
        "status": e.status,
        "status_label": e.get_status_display(),
        "description": e.description,
        "inspector": staff("inspector"),
        "recorded_by": staff("recorded_by"),
        "recorded_at": e.recorded_at,
        "decided_by": staff("decided_by"),
        "decided_at": e.decided_at,
        "decision_note": "" if portal else e.decision_note,
        "status_before_contest": e.status_before_contest,
    }


def _detail(e: CreditEvent, *, mask: bool = True) -> dict[str, Any]:
    return {
        **event_row(e, mask=mask),
        "evidence": [
            {"id": v.pk, "name": v.name, "size": v.size, "uploaded_at": v.uploaded_at}
            for v in e.evidence.order_by("id")
        ],
        "contests": [contest_row(c) for c in selectors.contests_of(e)],
    }


def _choice(value: str, choices, field: str) -> str:
    if value and value not in choices.values:
        raise ValidationError({field: [_("取值无效：%(v)s") % {"v": value[:40]}]})
    return value


def _reload(request, pk: int) -> CreditEvent:
    return selectors.events_visible(request.user).get(pk=pk)


# ---------------------------------------------------------------- staff: the register


@router.get(
    "/credit/events", response={200: CreditRegisterEventPage, **LIST_ERRORS}, summary="信用事件登记簿"
)
def credit_events(request, filters: Query[CreditRegisterEventFilter], paging: Query[PageParams]):
    """Events of the caller's units, newest first (credit.view)."""
    require_perm(request, Perm.CREDIT_VIEW)
    _choice(filters.status, EventStatus, "status")
    _choice(filters.code, EventCode, "code")
    _choice(filters.source, EventSource, "source")
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise ValidationError({"date_to": [_("结束日期不能早于开始日期")]})
    qs = selectors.events_filtered(
        selectors.events_visible(request.user),
        customer_id=filters.customer_id,
        status=filters.status,
        code=filters.code,
        source=filters.source,
        date_from=filters.date_from,
        date_to=filters.date_to,
    )
    return paginate(qs, paging, event_row)


@router.get(
    "/credit/events/{event_id}",
    response={200: CreditRegisterEventDetailOut, **READ_ERRORS},
    summary="信用事件详情",
)
def credit_event(request, event_id: int):
    return _detail(selectors.event_for(request.user, event_id))


@router.get(
    "/credit/events/{event_id}/evidence/{evidence_id}",
    response={200: None, **READ_ERRORS},
    summary="下载信用事件证据",
)
def credit_event_evidence_file(request, event_id: int, evidence_id: int):
    event = selectors.event_for(request.user, event_id)
    ev = (
        CreditEvidence.objects.filter(event=event, pk=evidence_id).first()
        if 0 < evidence_id < 2**63
        else None
    )
    if ev is None:
        raise Http404
    try:
        handle = ev.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    return FileResponse(
        handle, content_type=services.evidence_content_type(ev), as_attachment=True, filename=ev.name
    )


@router.post(
    "/credit/events", response={201: CreditRegisterEventDetailOut, **WRITE_ERRORS}, summary="登记信用事件"
)
def credit_event_record(request, payload: CreditRegisterRecordIn):
    """Record an event for a customer of the caller's units (credit.record): pending a second person's approval."""
    require_perm(request, Perm.CREDIT_RECORD)
    if payload.severity is not None:
        raise ValidationError({"severity": [_("人工登记的事件不填严重程度")]})
    event = services.event_record(
        actor=api_actor(request),
        customer_id=payload.customer_id,
        code=payload.code,
        day=payload.date,
        count=payload.count,
        description=payload.description,
        inspector_id=payload.inspector_id,
    )
    return Status(201, _detail(_reload(request, event.pk)))


@router.post(
    "/credit/events/{event_id}/evidence",
    response={201: CreditEvidenceOut, **WRITE_ERRORS},
    summary="上传信用事件证据",
)
def credit_event_evidence(request, event_id: int, file: File[UploadedFile]):
    """A PDF, JPG or PNG (checked by content), at most 10 MB (credit.record on the event's unit)."""
    event = selectors.event_for(request.user, event_id)
    name = (file.name or "file")[:120]
    if file.size is not None and file.size > services.EVIDENCE_MAX_BYTES:
        raise ValidationError(
            {
                "file": [
                    _("文件“%(n)s”超过 %(mb)d MB") % {"n": name, "mb": services.EVIDENCE_MAX_BYTES // 1048576}
                ]
            }
        )
    ev = services.evidence_add(actor=api_actor(request), event=event, name=name, data=b"".join(file.chunks()))
    return Status(201, {"id": ev.pk, "name": ev.name, "size": ev.size, "uploaded_at": ev.uploaded_at})


def _decision(request, event_id: int, fn, **kw):
    event = selectors.event_for(request.user, event_id)
    fn(actor=api_actor(request), event=event, **kw)
    return _detail(_reload(request, event.pk))


@router.post(
    "/credit/events/{event_id}/approve",
    response={200: CreditRegisterEventDetailOut, **WRITE_ERRORS},
    summary="审批通过信用事件",
)
def credit_event_approve(request, event_id: int, payload: CreditRegisterNoteIn):
    return _decision(request, event_id, services.event_approve, note=payload.note)


@router.post(
    "/credit/events/{event_id}/reject",
    response={200: CreditRegisterEventDetailOut, **WRITE_ERRORS},
    summary="驳回信用事件",
)
def credit_event_reject(request, event_id: int, payload: CreditRegisterReasonIn):
    return _decision(request, event_id, services.event_reject, reason=payload.reason)


@router.post(
    "/credit/events/{event_id}/confirm",
    response={200: CreditRegisterEventDetailOut, **WRITE_ERRORS},
    summary="确认代扣失败候选事件",
)
def credit_event_confirm(request, event_id: int, payload: CreditRegisterNoteIn):
    return _decision(request, event_id, services.candidate_confirm, note=payload.note)


@router.post(
    "/credit/events/{event_id}/dismiss",
    response={200: CreditRegisterEventDetailOut, **WRITE_ERRORS},
    summary="不予确认代扣失败候选事件",
)
def credit_event_dismiss(request, event_id: int, payload: CreditRegisterDismissIn):
    return _decision(request, event_id, services.candidate_dismiss, note=payload.note)


@router.post(
    "/credit/events/{event_id}/contest",
    response={201: CreditContestOut, **WRITE_ERRORS},
    summary="申诉信用事件（营业厅/客户经理）",
)
def credit_event_contest(request, event_id: int, payload: CreditRegisterReasonIn):
    event = selectors.event_for_contest(request.user, event_id)
    contest = services.contest_raise(actor=api_actor(request), event=event, reason=payload.reason)
    return Status(201, contest_row(contest))


@router.get("/credit/contests", response={200: CreditContestPage, **LIST_ERRORS}, summary="信用事件申诉")
def credit_contests(request, filters: Query[CreditContestFilter], paging: Query[PageParams]):
    require_perm(request, Perm.CREDIT_VIEW)
    _choice(filters.status, ContestStatus, "status")
    qs = selectors.contests_visible(request.user)
    if filters.status:
        qs = qs.filter(status=filters.status)
    return paginate(qs.order_by("-raised_at", "-id"), paging, contest_row)


@router.post(
    "/credit/contests/{contest_id}/decide",
    response={200: CreditContestOut, **WRITE_ERRORS},
    summary="处理信用事件申诉",
)
def credit_contest_decide(request, contest_id: int, payload: CreditContestDecideIn):
    contest = selectors.contest_for(request.user, contest_id)
    services.contest_decide(
        actor=api_actor(request), contest=contest, upheld=payload.decision == "upheld", note=payload.note
    )
    return contest_row(selectors.contest_for(request.user, contest_id))


# ---------------------------------------------------------------- the portal customer


def _require_customer(request) -> None:
    if not is_customer(request.user):
        raise HttpError(403, _("仅限已登录的门户客户使用"))


@router.get(
    "/my/credit/events", response={200: CreditRegisterEventPage, **LIST_ERRORS}, summary="我的信用事件"
)
def my_credit_events(request, paging: Query[PageParams]):
    """The events of the customer's own customers (bound accounts) that count against them or are contested."""
    _require_customer(request)
    return paginate(selectors.portal_events(request.user), paging, lambda e: event_row(e, portal=True))


@router.post(
    "/my/credit/events/{event_id}/contest",
    response={201: CreditContestOut, **WRITE_ERRORS},
    summary="申诉信用事件（客户）",
)
def my_credit_event_contest(request, event_id: int, payload: CreditRegisterReasonIn):
    _require_customer(request)
    event = selectors.portal_event_for(request.user, event_id)
    contest = services.contest_raise(
        actor=Actor.from_request(request, Channel.PORTAL), event=event, reason=payload.reason
    )
    return Status(201, contest_row(contest))
