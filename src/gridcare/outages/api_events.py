"""Outage events API (issue 14): list, create, read and act on outage events, and an account's current and
planned outages (`GET /accounts/{account_number}/outages`, the contract the 95598 console and fault triage use).

Who gets what (the house rules of `gridcare.core.api` / `gridcare.customers.api`):
- anonymous → 401;
- a role lacking the route's permission (a portal customer included) → 403, before any object is looked up:
  list/read need reliability.view; create, submit, start, restore and contacts outage.draft; approve, reject,
  publish and budgets outage.approve; cancel and change either (the service decides by the event's status);
- an event missing, outside the caller's units, or one the caller may not act on → the same 404;
- bad input → 422 naming the field; a refused request writes nothing.
`GET /accounts/{account_number}/outages`: staff with customer.view on the account's unit, or a portal customer for
an account bound to them; anyone else the same 404 as a missing account."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from gridcare.core.api import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    ErrorOut,
    PageParams,
    Text,
    api_actor,
    aware,
    paginate,
    require_perm,
)
from gridcare.core.permissions import Perm, is_customer
from gridcare.core.scoping import PermissionDenied, visible_unit_ids
from gridcare.customers.models import Account
from gridcare.customers.selectors import account_get
from gridcare.org.models import SupplyUnit

from . import selectors, services
from .choices import OutageKind, OutageStatus
from .freeze import china_day
from .models import AffectedAccount, ImportantContact, OutageEvent

router = Router(tags=["outages"])


# ---------------------------------------------------------------- schemas


class OutageScopeIn(Schema):
    level: Literal["feeder", "area"] = Field(..., description="feeder 线路 / area 台区")
    code: Text = Field(..., max_length=40, description="线路编号或台区编号")


class OutageIn(Schema):
    kind: Text = Field(..., max_length=20, description="planned / temporary / fault / external / shortage")
    cause_category: Text = Field("other", max_length=20, description="原因分类")
    title: Text = Field(..., max_length=100, description="停电原因（通知中显示）")
    scope: list[OutageScopeIn] = Field(..., max_length=500, description="停电范围：线路和/或台区")
    planned_start: datetime = Field(..., description="计划（故障：实际）停电开始；无时区按北京时间")
    planned_end: datetime = Field(..., description="预计送电时间")
    work_content: Text = Field("", max_length=2000)


class OutagePatch(Schema):
    title: Text | None = Field(None, max_length=100)
    cause_category: Text | None = Field(None, max_length=20)
    scope: list[OutageScopeIn] | None = Field(None, max_length=500)
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    work_content: Text | None = Field(None, max_length=2000)


class OutageFilter(Schema):
    unit: int | None = Field(None, description="供电单位 id（含下级）")
    kind: Text | None = Field(None, max_length=20)
    status: Text | None = Field(None, max_length=20)
    start: date | None = Field(None, description="计划停电时段与此日（含）之后有交集")
    end: date | None = Field(None, description="计划停电时段与此日（含）之前有交集")


class OutageOut(Schema):
    number: str
    kind: str
    kind_label: str
    status: str
    status_label: str
    cause_category: str
    title: str
    unit_id: int
    unit_name: str
    planned_start: datetime
    planned_end: datetime
    actual_start: datetime | None
    actual_end: datetime | None
    customers: int
    mv_users: int
    est_customer_hours: Decimal
    version: int


class OutagePage(Schema):
    count: int
    page: int
    page_size: int
    items: list[OutageOut]


class OutageAreaOut(Schema):
    code: str
    name: str
    feeder_code: str
    customers: int
    dedicated: int
    est_restoration: datetime
    actual_end: datetime | None
    open_customers: int


class OutageMergeCandidateOut(Schema):
    number: str
    kind: str
    status: str
    title: str
    planned_start: datetime
    planned_end: datetime


class OutageBudgetOut(Schema):
    unit_id: int
    year: int
    budget: Decimal | None
    used: Decimal
    remaining: Decimal | None


class OutageContactOut(Schema):
    account_number: str
    confirmed: bool
    urgent: bool = Field(..., description="临时检修且尚未确认：须立即逐户告知")
    method: str
    contacted_at: datetime | None


class OutageCountsOut(Schema):
    areas: int
    customers: int
    mv_users: int
    restored: int
    important: int
    contacts_confirmed: int


class OutageScopeOut(Schema):
    level: str
    code: str


class OutageDetailOut(OutageOut):
    work_content: str
    reject_reason: str
    cancel_reason: str
    budget_override_reason: str
    merge_note: str
    scope: list[OutageScopeOut]
    areas: list[OutageAreaOut]
    counts: OutageCountsOut
    contacts: list[OutageContactOut]
    merge_candidates: list[OutageMergeCandidateOut]
    budgets: list[OutageBudgetOut]


class OutageApproveIn(Schema):
    budget_override_reason: Text = Field("", max_length=500)
    merge_note: Text = Field("", max_length=500)


class OutageReasonIn(Schema):
    reason: Text = Field(..., max_length=500)


class OutageStartIn(Schema):
    at: datetime


class OutageRestoreIn(Schema):
    at: datetime = Field(..., description="送电时间")
    areas: list[Text] | None = Field(None, max_length=1000, description="只恢复这些台区（台区编号）")
    accounts: list[Text] | None = Field(None, max_length=5000, description="只恢复这些户号")


class OutageContactIn(Schema):
    account_number: Text = Field(..., max_length=20)
    method: Text = Field(..., max_length=10, description="phone / visit / sms / wechat")
    confirmed_by_name: Text = Field(..., max_length=50)
    note: Text = Field("", max_length=500)
    at: datetime | None = None


class OutageBudgetIn(Schema):
    unit: int
    year: int = Field(..., ge=2000, le=2100)
    customer_hours: Decimal = Field(..., ge=0, max_digits=14, decimal_places=2)


class AccountOutageOut(Schema):
    number: str
    kind: str
    kind_label: str
    status: str
    status_label: str
    title: str
    area_name: str
    planned_start: datetime
    planned_end: datetime
    est_restoration: datetime
    actual_start: datetime | None
    restored_at: datetime | None


class AccountOutagesOut(Schema):
    account_number: str
    outages: list[AccountOutageOut]


# ---------------------------------------------------------------- shaping


def _row(e: OutageEvent) -> dict[str, Any]:
    return {
        "number": e.number,
        "kind": e.kind,
        "kind_label": str(OutageKind(e.kind).label),
        "status": e.status,
        "status_label": str(OutageStatus(e.status).label),
        "cause_category": e.cause_category,
        "title": e.title,
        "unit_id": e.unit_id,
        "unit_name": e.unit.name,
        "planned_start": e.planned_start,
        "planned_end": e.planned_end,
        "actual_start": e.actual_start,
        "actual_end": e.actual_end,
        "customers": e.customers,
        "mv_users": e.mv_users,
        "est_customer_hours": e.est_customer_hours,
        "version": e.version,
    }


def _detail(e: OutageEvent) -> dict[str, Any]:
    out = _row(e)
    areas = []
    for a in (
        e.areas.select_related("transformer_area", "feeder")
        .prefetch_related("interruptions")
        .order_by("area_name")
    ):
        open_customers = sum(g.customers for g in a.interruptions.all() if g.end is None)
        areas.append(
            {
                "code": a.transformer_area.code,
                "name": a.area_name,
                "feeder_code": a.feeder.code,
                "customers": a.customers,
                "dedicated": a.dedicated,
                "est_restoration": a.est_restoration,
                "actual_end": a.actual_end,
                "open_customers": open_customers,
            }
        )
    contacts = [
        {
            "account_number": c.account.account_number,
            "confirmed": bool(c.contacted_at and c.confirmed_by_name),
            "urgent": e.kind == OutageKind.TEMPORARY and not (c.contacted_at and c.confirmed_by_name),
            "method": c.method,
            "contacted_at": c.contacted_at,
        }
        for c in ImportantContact.objects.filter(event=e).select_related("account").order_by("account_id")
    ]
    affected = AffectedAccount.objects.filter(event=e)
    year = china_day(e.planned_start).year
    budgets = selectors.budgets_applying(unit=e.unit, year=year)
    if not budgets:
        budgets = [selectors.budget_status(unit=e.unit, year=year)]
    out.update(
        {
            "work_content": e.work_content,
            "reject_reason": e.reject_reason,
            "cancel_reason": e.cancel_reason,
            "budget_override_reason": e.budget_override_reason,
            "merge_note": e.merge_note,
            "scope": [
                {"level": "feeder", "code": f} if f else {"level": "area", "code": a}
                for f, a in e.scopes.order_by("pk").values_list("feeder__code", "transformer_area__code")
            ],
            "areas": areas,
            "counts": {
                "areas": len(areas),
                "customers": e.customers,
                "mv_users": e.mv_users,
                "restored": affected.filter(interruption__end__isnull=False).count(),
                "important": affected.filter(important=True).count(),
                "contacts_confirmed": sum(1 for c in contacts if c["confirmed"]),
            },
            "contacts": contacts,
            "merge_candidates": [
                {
                    "number": c.number,
                    "kind": c.kind,
                    "status": c.status,
                    "title": c.title,
                    "planned_start": c.planned_start,
                    "planned_end": c.planned_end,
                }
                for c in selectors.merge_candidates(e)
            ],
            "budgets": budgets,
        }
    )
    return out


def _scope(items: list[OutageScopeIn]) -> list[tuple[str, str]]:
    return [(s.level, s.code) for s in items]


def _event(request, number: str, *perms: str) -> OutageEvent:
    """Object routes: the role must hold one of `perms` (else 403), the event must be visible (else 404)."""
    require_perm(request, *perms)
    return selectors.outage_get(request.user, number)


def _act(request, fn, **kwargs) -> OutageEvent:
    """Call a service; a refusal on the event's unit answers the same 404 as a missing event."""
    try:
        return fn(actor=api_actor(request), **kwargs)
    except PermissionDenied:
        raise Http404 from None


# ---------------------------------------------------------------- routes


@router.get("/outages", response={200: OutagePage, **LIST_ERRORS}, summary="停电事件列表")
def outage_list(request, filters: Query[OutageFilter], paging: Query[PageParams]):
    """Events of the caller's units, newest planned start first (reliability.view)."""
    require_perm(request, Perm.RELIABILITY_VIEW)
    errs = {}
    if filters.kind and filters.kind not in OutageKind.values:
        errs["kind"] = [_("未知的停电类型：%(k)s") % {"k": filters.kind}]
    if filters.status and filters.status not in OutageStatus.values:
        errs["status"] = [_("未知的状态：%(s)s") % {"s": filters.status}]
    if filters.start and filters.end and filters.end < filters.start:
        errs["end"] = [_("截止日不能早于起始日")]
    if errs:
        raise ValidationError(errs)
    qs = selectors.outage_list(
        request.user,
        unit_id=filters.unit,
        kind=filters.kind or None,
        status=filters.status or None,
        start=filters.start,
        end=filters.end,
    )
    return paginate(qs, paging, _row)


@router.post("/outages", response={201: OutageDetailOut, **WRITE_ERRORS}, summary="新建停电事件")
def outage_create(request, payload: OutageIn):
    """A planned/temporary draft, or a fault/external/shortage outage entered as it happens (outage.draft)."""
    require_perm(request, Perm.OUTAGE_DRAFT)
    try:
        event = services.outage_create(
            actor=api_actor(request),
            kind=payload.kind,
            cause_category=payload.cause_category,
            title=payload.title,
            scope=_scope(payload.scope),
            planned_start=aware(payload.planned_start),
            planned_end=aware(payload.planned_end),
            work_content=payload.work_content,
        )
    except PermissionDenied:
        raise HttpError(403, _("无权在该供电单位的线路或台区上安排停电")) from None
    return Status(201, _detail(event))


@router.post(
    "/outages/budgets", response={200: OutageBudgetOut, **WRITE_ERRORS}, summary="设置预安排停电指标"
)
def budget_set(request, payload: OutageBudgetIn):
    """A unit's yearly planned-outage budget in customer-hours (outage.approve)."""
    require_perm(request, Perm.OUTAGE_APPROVE)
    if payload.unit not in visible_unit_ids(request.user):
        raise Http404
    unit = SupplyUnit.objects.get(pk=payload.unit)
    _act(
        request,
        services.planned_budget_set,
        unit=unit,
        year=payload.year,
        customer_hours=payload.customer_hours,
    )
    return selectors.budget_status(unit=unit, year=payload.year)


@router.get(
    "/outages/{number}", response={200: OutageDetailOut, **READ_ERRORS, 403: ErrorOut}, summary="停电事件详情"
)
def outage_detail(request, number: Text):
    """The event, its frozen areas, counts, important contacts, merge candidates and budget (reliability.view)."""
    return _detail(_event(request, number, Perm.RELIABILITY_VIEW))


@router.patch("/outages/{number}", response={200: OutageDetailOut, **WRITE_ERRORS}, summary="修改停电事件")
def outage_update(request, number: Text, payload: OutagePatch):
    """Edit a draft or rejected event (outage.draft), or change the times/scope of a published one
    (outage.approve: everyone affected is told again)."""
    event = _event(request, number, Perm.OUTAGE_DRAFT, Perm.OUTAGE_APPROVE)
    fields = payload.dict(exclude_unset=True)
    if "scope" in fields:
        fields["scope"] = _scope(payload.scope or [])
    for name in ("planned_start", "planned_end"):
        if name in fields:
            fields[name] = aware(fields[name])
    fields = {k: v for k, v in fields.items() if v is not None}
    return _detail(_act(request, services.outage_update, event=event, **fields))


@router.post("/outages/{number}/submit", response={200: OutageDetailOut, **WRITE_ERRORS}, summary="提交审批")
def outage_submit(request, number: Text):
    event = _event(request, number, Perm.OUTAGE_DRAFT)
    return _detail(_act(request, services.outage_submit, event=event))


@router.post("/outages/{number}/approve", response={200: OutageDetailOut, **WRITE_ERRORS}, summary="审批通过")
def outage_approve(request, number: Text, payload: OutageApproveIn):
    event = _event(request, number, Perm.OUTAGE_APPROVE)
    return _detail(
        _act(
            request,
            services.outage_approve,
            event=event,
            budget_override_reason=payload.budget_override_reason,
            merge_note=payload.merge_note,
        )
    )


@router.post("/outages/{number}/reject", response={200: OutageDetailOut, **WRITE_ERRORS}, summary="退回")
def outage_reject(request, number: Text, payload: OutageReasonIn):
    event = _event(request, number, Perm.OUTAGE_APPROVE)
    return _detail(_act(request, services.outage_reject, event=event, reason=payload.reason))


@router.post(
    "/outages/{number}/publish", response={200: OutageDetailOut, **WRITE_ERRORS}, summary="发布停电通知"
)
def outage_publish(request, number: Text):
    event = _event(request, number, Perm.OUTAGE_APPROVE)
    return _detail(_act(request, services.outage_publish, event=event))


@router.post("/outages/{number}/start", response={200: OutageDetailOut, **WRITE_ERRORS}, summary="开始停电")
def outage_start(request, number: Text, payload: OutageStartIn):
    event = _event(request, number, Perm.OUTAGE_DRAFT)
    return _detail(_act(request, services.outage_start, event=event, at=aware(payload.at)))


@router.post("/outages/{number}/restore", response={200: OutageDetailOut, **WRITE_ERRORS}, summary="恢复送电")
def outage_restore(request, number: Text, payload: OutageRestoreIn):
    """Everything still out (no lists), some areas, or some accounts get power back at `at`."""
    event = _event(request, number, Perm.OUTAGE_DRAFT)
    return _detail(
        _act(
            request,
            services.outage_restore,
            event=event,
            at=aware(payload.at),
            area_codes=payload.areas,
            account_numbers=payload.accounts,
        )
    )


@router.post("/outages/{number}/cancel", response={200: OutageDetailOut, **WRITE_ERRORS}, summary="取消停电")
def outage_cancel(request, number: Text, payload: OutageReasonIn):
    event = _event(request, number, Perm.OUTAGE_DRAFT, Perm.OUTAGE_APPROVE)
    return _detail(_act(request, services.outage_cancel, event=event, reason=payload.reason))


@router.post(
    "/outages/{number}/contacts", response={200: OutageDetailOut, **WRITE_ERRORS}, summary="记录重要客户告知"
)
def outage_contact(request, number: Text, payload: OutageContactIn):
    event = _event(request, number, Perm.OUTAGE_DRAFT)
    _act(
        request,
        services.outage_contact_record,
        event=event,
        account_number=payload.account_number,
        method=payload.method,
        confirmed_by_name=payload.confirmed_by_name,
        note=payload.note,
        at=aware(payload.at),
    )
    return _detail(event)


@router.get(
    "/accounts/{account_number}/outages",
    response={200: AccountOutagesOut, **READ_ERRORS, 403: ErrorOut},
    summary="户号的当前及计划停电",
)
def account_outages(request, account_number: Text):
    """Current and planned outages affecting an account, with their estimated restoration: staff with
    customer.view on the account's unit, or a portal customer for an account bound to them."""
    if is_customer(request.user):
        account = Account.objects.filter(account_number=account_number, bindings__user=request.user).first()
        if account is None:
            raise Http404
    else:
        account = account_get(user=request.user, account_number=account_number)
    return {
        "account_number": account.account_number,
        "outages": selectors.outages_for_account(account, now=timezone.now()),
    }
