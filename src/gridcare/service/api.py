"""Work-orders API of the 95598 service (issue 15). Mounted at /api/v1/ by gridcare/api.py.

Staff (a console session or a bearer token):
- `POST /work-orders/deadlines`: the deadlines an order would get (the contract of issue 15, "Deadlines, exactly"),
  storing nothing; any staff role (workorder.view).
- `POST /work-orders` (workorder.handle): register a request from any channel; 201 with the order and its deadlines
  in the preview's shape. `received_at` may be earlier than now (audited as workorder.received_entered), never
  later.
- `GET /work-orders` (workorder.view, the caller's units, paginated; filters status, type, channel, overdue,
  account_number, phone, number, received_from/received_to as China dates) and `GET /work-orders/{number}` (the
  order, its event history, deadlines and attachments).
- `POST /work-orders/{number}/actions` (workorder.handle; dispatch, depart, arrive and restore workorder.dispatch):
  one step of the order's lifecycle or a side action (return, escalate, transfer, merge, chase); an illegal one is
  a 422 naming `action`. `POST /work-orders/{number}/substantiate` (complaints, workorder.handle).
- `POST /work-orders/{number}/attachments` (multipart `file`, workorder.handle) and
  `GET /work-orders/{number}/attachments/{attachment_id}` (the file, workorder.view).

Portal customers (their session or a bearer token):
- `GET /my/work-orders`, `GET /my/work-orders/{number}`: orders they submitted or on an account bound to them;
- `POST /my/work-orders` (any type, for a bound account or with a phone and address; channel portal);
- `POST /my/work-orders/{number}/chase` (催办) and `POST /my/work-orders/{number}/rate` (a closed order, once).

Who gets what (the house rules of `gridcare.core.api`): anonymous → 401; a role lacking the route's permission →
403 before any order is looked up (a portal customer on a staff route and a staff user on a customer route
included); an order missing or outside the caller's units (not theirs, for a customer) → the same 404; bad input →
422 naming the field, and nothing written. Request bodies refuse unknown keys, and a `deadlines` or `due_at` key
whatever its value: deadlines are computed only on the server. Times must carry a UTC offset; answers give them in
China time (+08:00). Phones, addresses and callers' names are masked unless the role has customer.view_pii, and
then every answer showing them writes one customer.view_pii audit row."""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.http import FileResponse, Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, File, Query, Router, Schema, Status, UploadedFile
from ninja.errors import HttpError
from pydantic import AfterValidator, BeforeValidator, ConfigDict
from pydantic.json_schema import SkipJsonSchema

from gridcare.core import ratelimit
from gridcare.core.api import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    ErrorOut,
    PageParams,
    Text,
    api_actor,
    paginate,
    require_perm,
)
from gridcare.core.audit import Actor, pii_view_record
from gridcare.core.choices import Channel
from gridcare.core.idempotency import idempotent
from gridcare.core.masking import mask_actor_label, mask_address, mask_name, mask_phone
from gridcare.core.permissions import Perm, has_perm, is_customer
from gridcare.core.scoping import PermissionDenied, may_act_on_unit

from . import attachments, lifecycle, selectors, services
from .choices import (
    SUB_TYPE_CHOICES,
    DeadlineName,
    OrderChannel,
    OrderType,
    Priority,
    Satisfaction,
    Step,
)
from .deadlines import CHINA, whole_seconds
from .models import WorkOrder, WorkOrderAttachment, WorkOrderDeadline, WorkOrderEvent

router = Router(tags=["work-orders"])

SUB_TYPE_LABELS = dict(SUB_TYPE_CHOICES)


# ---------------------------------------------------------------- input types


def _iso_text(value: Any) -> Any:
    # A time is an ISO 8601 text with its offset; pydantic would also read a bare number as seconds since 1970.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(_("须为带时区的 ISO 8601 时间，如 2026-09-24T10:00:00+08:00"))
    return value


def _with_offset(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(_("须带时区（UTC 偏移），如 2026-09-24T10:00:00+08:00 或 …Z"))
    return value


OffsetDatetime = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_with_offset)]
"""A time that must carry its UTC offset (converted to China time by the route)."""


def _server_only(value: Any) -> Any:
    raise ValueError(_("时限只由服务器计算，请求中不能包含此字段"))


# A key refused whatever its value (null included); left out of the OpenAPI document, which forbids unknown keys.
ServerOnly = Annotated[Any, BeforeValidator(_server_only), SkipJsonSchema()]

FORBID = ConfigDict(extra="forbid")


def _china(value: datetime | None) -> datetime | None:
    """An input time in China time, truncated to whole seconds (the contract's first step)."""
    return None if value is None else whole_seconds(value).astimezone(CHINA)


def _out(value: datetime | None) -> datetime | None:
    """A stored time as answered: China time (+08:00)."""
    return None if value is None else value.astimezone(CHINA)


# ---------------------------------------------------------------- schemas: deadlines


class DeadlinePreviewIn(Schema):
    """The order a deadline preview is for (nothing is stored)."""

    model_config = FORBID

    type: Text = Field(
        ...,
        max_length=20,
        description="fault / complaint / report / opinion / consultation / praise / service_request",
    )
    sub_type: Text | None = Field(
        None,
        max_length=20,
        description="service_request（必填）：reconnection / meter_check / reading_data / other；"
        "complaint（可选）：service / business / outage / quality / construction；其他类型不填",
    )
    area: Text | None = Field(None, max_length=10, description="urban / rural / remote（故障报修必填）")
    received_at: OffsetDatetime = Field(..., description="受理时间，须带时区")
    arrived_at: OffsetDatetime | None = Field(None, description="到达现场时间（仅故障报修），须带时区")
    deadlines: ServerOnly = None
    due_at: ServerOnly = None


class WorkOrderDeadlineOut(Schema):
    name: str = Field(..., description="arrival / restoration / contact / reply / complete / callback")
    due_at: datetime = Field(..., description="北京时间（+08:00），整秒")
    provisional: bool = Field(..., description="计算所用日期落在未载入的日历年份：载入后重算")


class DeadlinePreviewOut(Schema):
    deadlines: list[WorkOrderDeadlineOut]


class WorkOrderClockOut(WorkOrderDeadlineOut):
    """A stored deadline of an order: the preview's shape plus its state."""

    label: str
    met_at: datetime | None
    warned_at: datetime | None
    escalated_at: datetime | None
    overdue: bool


# ---------------------------------------------------------------- schemas: orders


class WorkOrderIn(Schema):
    """A request registered by staff. Either `account_number`, or a `phone` and an `address` (an unknown account is
    accepted only for a fault reported with a phone and an address)."""

    model_config = FORBID

    type: Text = Field(..., max_length=20, description="工单类型")
    sub_type: Text | None = Field(None, max_length=20, description="子类（服务申请必填；投诉可选）")
    channel: Text | None = Field(None, max_length=10, description="受理渠道，默认 phone")
    account_number: Text | None = Field(None, max_length=20, description="户号")
    caller_name: Text | None = Field(None, max_length=50, description="联系人")
    phone: Text | None = Field(None, max_length=20, pattern=r"^[0-9+\- ]*$", description="联系电话")
    address: Text | None = Field(None, max_length=200, description="地址")
    area: Text | None = Field(
        None, max_length=10, description="urban / rural / remote（故障报修必填，有户号时取其台区）"
    )
    description: Text | None = Field(None, max_length=2000, description="诉求内容")
    priority: int | None = Field(None, ge=1, le=3, description="1 一般（默认）、2 紧急、3 特急")
    received_at: OffsetDatetime | None = Field(
        None, description="受理时间，默认服务器当前时间；可补录更早时间（记审计），不可晚于当前"
    )
    deadlines: ServerOnly = None
    due_at: ServerOnly = None


class WorkOrderOut(Schema):
    number: str
    type: str
    type_label: str
    sub_type: str
    sub_type_label: str
    channel: str
    channel_label: str
    status: str
    status_label: str
    priority: int
    priority_label: str
    unit_id: int
    unit_name: str
    account_number: str | None
    caller_name: str
    phone: str
    address: str
    area: str
    description: str
    received_at: datetime
    received_entered: bool = Field(..., description="受理时间为工作人员补录的更早时间")
    triage: str = Field(
        ..., description="故障研判：dispatch 派发抢修 / outage 已知停电 / arrears 欠费停电；其他类型为空"
    )
    outage_number: str | None
    assignee: str | None
    escalation_level: int
    chase_count: int
    reopen_count: int
    substantiated: bool | None
    merged_into: str | None
    allowed_actions: list[str] = Field(..., description="当前用户现在可执行的操作")
    deadlines: list[WorkOrderDeadlineOut]


class WorkOrderRowOut(Schema):
    number: str
    type: str
    type_label: str
    sub_type: str
    channel: str
    status: str
    status_label: str
    priority: int
    unit_id: int
    unit_name: str
    account_number: str | None
    caller_name: str
    phone: str
    received_at: datetime
    triage: str
    next_due_at: datetime | None = Field(..., description="最近一个未满足时限的到期时间")
    overdue: bool


class WorkOrderPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[WorkOrderRowOut]


class WorkOrderEventOut(Schema):
    action: str
    from_status: str
    to_status: str
    actor: str
    at: datetime
    note: str
    data: dict[str, Any]


class WorkOrderAttachmentOut(Schema):
    id: int
    name: str
    content_type: str
    size: int
    uploaded_at: datetime
    uploaded_by: str | None


class WorkOrderDetailOut(WorkOrderOut):
    deadlines: list[WorkOrderClockOut]
    fault_cause: str
    resolution: str
    arrived_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    callback_result: str
    callback_note: str
    customer_rating: str
    customer_comment: str
    events: list[WorkOrderEventOut]
    attachments: list[WorkOrderAttachmentOut]


class WorkOrderFilter(Schema):
    status: Text | None = Field(None, max_length=12, description="状态")
    type: Text | None = Field(None, max_length=20, description="工单类型")
    channel: Text | None = Field(None, max_length=10, description="受理渠道")
    overdue: bool | None = Field(None, description="true：有已超期未满足的时限（未归档）；false：没有")
    account_number: Text | None = Field(None, max_length=20)
    phone: Text | None = Field(None, max_length=20)
    number: Text | None = Field(None, max_length=24)
    received_from: date | None = Field(None, description="受理日（北京时间）起")
    received_to: date | None = Field(None, description="受理日（北京时间）止，含")


class WorkOrderActionIn(Schema):
    model_config = FORBID

    action: Text = Field(
        ...,
        max_length=20,
        description="accept dispatch depart arrive restore assign contact reply complete answer callback close "
        "return escalate transfer merge chase",
    )
    note: Text | None = Field(None, max_length=1000, description="说明；退回须填原因；回访记录")
    assignee: Text | None = Field(None, max_length=150, description="派工/派单给（用户名）")
    unit: int | None = Field(None, ge=1, description="转派到的供电单位 id（transfer）")
    into: Text | None = Field(None, max_length=24, description="合并到的工单编号（merge）")
    fault_cause: Text | None = Field(None, max_length=200, description="故障原因（restore 必填）")
    resolution: Text | None = Field(None, max_length=2000, description="处理结果")
    satisfaction: Text | None = Field(
        None, max_length=12, description="回访满意度：satisfied / basic / unsatisfied"
    )


class WorkOrderSubstantiateIn(Schema):
    model_config = FORBID

    substantiated: bool = Field(..., description="投诉是否属实")
    note: Text | None = Field(None, max_length=500)


# ---------------------------------------------------------------- schemas: the customer's own orders


class MyWorkOrderIn(Schema):
    """A request submitted by a portal customer: for one of their bound accounts, or with a phone and address."""

    model_config = FORBID

    type: Text = Field(..., max_length=20)
    sub_type: Text | None = Field(None, max_length=20)
    account_number: Text | None = Field(None, max_length=20, description="已绑定的户号")
    caller_name: Text | None = Field(None, max_length=50)
    phone: Text | None = Field(None, max_length=20, pattern=r"^[0-9+\- ]*$")
    address: Text | None = Field(None, max_length=200)
    area: Text | None = Field(
        None, max_length=10, description="urban / rural / remote（无户号的故障报修必填）"
    )
    description: Text | None = Field(None, max_length=2000)
    deadlines: ServerOnly = None
    due_at: ServerOnly = None


class MyWorkOrderStepOut(Schema):
    action: str
    status: str
    status_label: str
    at: datetime


class MyWorkOrderClockOut(WorkOrderDeadlineOut):
    label: str
    met_at: datetime | None


class MyWorkOrderOut(Schema):
    number: str
    type: str
    type_label: str
    sub_type: str
    sub_type_label: str
    channel: str
    status: str
    status_label: str
    account_number: str | None
    description: str
    received_at: datetime
    triage: str
    outage_number: str | None
    resolution: str
    closed_at: datetime | None
    customer_rating: str
    customer_comment: str
    can_chase: bool
    can_rate: bool
    deadlines: list[MyWorkOrderClockOut]
    steps: list[MyWorkOrderStepOut]


class MyWorkOrderPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[MyWorkOrderOut]


class MyChaseIn(Schema):
    model_config = FORBID

    note: Text | None = Field(None, max_length=500)


class MyRateIn(Schema):
    model_config = FORBID

    rating: Text = Field(
        ..., max_length=12, description="satisfied 满意 / basic 基本满意 / unsatisfied 不满意"
    )
    comment: Text | None = Field(None, max_length=500)


# ---------------------------------------------------------------- helpers


@contextmanager
def _fields(**renamed: str) -> Iterator[None]:
    """A service's refusal with its fields named as this API's request names them (account → account_number)."""
    try:
        yield
    except ValidationError as exc:
        if not hasattr(exc, "error_dict") or not renamed:
            raise
        raise ValidationError({renamed.get(k, k): v for k, v in exc.message_dict.items()}) from None


def _label(choices, value) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value or "")


def _deadline(d) -> dict[str, Any]:
    return {"name": d.name, "due_at": _out(d.due_at), "provisional": d.provisional}


def _clock(d: WorkOrderDeadline, *, open_: bool, now: datetime) -> dict[str, Any]:
    return {
        **_deadline(d),
        "label": _label(DeadlineName, d.name),
        "met_at": _out(d.met_at),
        "warned_at": _out(d.warned_at),
        "escalated_at": _out(d.escalated_at),
        "overdue": open_ and d.met_at is None and d.due_at < now,
    }


def _ordered(deadlines: Iterable[WorkOrderDeadline]) -> list[WorkOrderDeadline]:
    from .choices import DEADLINE_ORDER

    return sorted(deadlines, key=lambda d: DEADLINE_ORDER.index(d.name))


def _reveal(request, orders: list[WorkOrder], source: str) -> bool:
    """Whether personal data is shown whole: only to customer.view_pii, and then audited once for the answer."""
    if not has_perm(request.user, Perm.CUSTOMER_VIEW_PII):
        return False
    shown = [o for o in orders if o.phone or o.address or o.caller_name]
    pii_view_record(
        actor=api_actor(request),
        source=source,
        object_type="service.workorder",
        object_ids=[o.pk for o in shown],
        customer_ids=[o.account.customer_id for o in shown if o.account_id],
    )
    return True


def _actions_for(user, order: WorkOrder) -> list[str]:
    """The lifecycle's actions now, those the user's role may take."""
    out = []
    for action in lifecycle.allowed_actions(order.order_type, order.status):
        perm = Perm.WORKORDER_DISPATCH if action in services.DISPATCH_ACTIONS else Perm.WORKORDER_HANDLE
        if may_act_on_unit(user, order.unit_id, perm):
            out.append(action)
    return out


def _order(
    request, o: WorkOrder, *, reveal: bool, deadlines: list | None = None, detail: bool = False
) -> dict[str, Any]:
    now = timezone.now()
    open_ = o.status not in lifecycle.TERMINAL
    rows = _ordered(deadlines if deadlines is not None else o.deadlines.all())
    out = {
        "number": o.number,
        "type": o.order_type,
        "type_label": _label(OrderType, o.order_type),
        "sub_type": o.sub_type,
        "sub_type_label": str(SUB_TYPE_LABELS.get(o.sub_type, "")),
        "channel": o.channel,
        "channel_label": _label(OrderChannel, o.channel),
        "status": o.status,
        "status_label": _label(Step, o.status),
        "priority": o.priority,
        "priority_label": _label(Priority, o.priority),
        "unit_id": o.unit_id,
        "unit_name": o.unit.name,
        "account_number": o.account.account_number if o.account_id else None,
        "caller_name": o.caller_name if reveal else mask_name(o.caller_name),
        "phone": o.phone if reveal else mask_phone(o.phone),
        "address": o.address if reveal else mask_address(o.address),
        "area": o.area,
        "description": o.description,
        "received_at": _out(o.received_at),
        "received_entered": o.received_entered,
        "triage": o.triage,
        "outage_number": o.outage.number if o.outage_id else None,
        "assignee": o.assignee.get_username() if o.assignee_id else None,
        "escalation_level": o.escalation_level,
        "chase_count": o.chase_count,
        "reopen_count": o.reopen_count,
        "substantiated": o.substantiated,
        "merged_into": o.merged_into.number if o.merged_into_id else None,
        "allowed_actions": _actions_for(request.user, o),
        "deadlines": [_clock(d, open_=open_, now=now) if detail else _deadline(d) for d in rows],
    }
    if detail:
        out.update(
            {
                "fault_cause": o.fault_cause,
                "resolution": o.resolution,
                "arrived_at": _out(o.arrived_at),
                "resolved_at": _out(o.resolved_at),
                "closed_at": _out(o.closed_at),
                "callback_result": o.callback_result,
                "callback_note": o.callback_note,
                "customer_rating": o.customer_rating,
                "customer_comment": o.customer_comment,
                "events": [
                    {
                        "action": e.action,
                        "from_status": e.from_status,
                        "to_status": e.to_status,
                        "actor": mask_actor_label(e.actor_label),
                        "at": _out(e.at),
                        "note": e.note,
                        "data": e.data or {},
                    }
                    for e in WorkOrderEvent.objects.filter(order=o).order_by("at", "id")
                ],
                "attachments": [
                    {
                        "id": a.pk,
                        "name": a.name,
                        "content_type": a.content_type,
                        "size": a.size,
                        "uploaded_at": _out(a.uploaded_at),
                        "uploaded_by": a.uploaded_by.get_username() if a.uploaded_by_id else None,
                    }
                    for a in WorkOrderAttachment.objects.filter(order=o)
                    .select_related("uploaded_by")
                    .order_by("uploaded_at", "id")
                ],
            }
        )
    return out


RELATED = ("unit", "account", "outage", "merged_into", "assignee")


def _detail(request, order: WorkOrder) -> dict[str, Any]:
    """The order as stored now (re-read: an action may have moved it), in full."""
    order = WorkOrder.objects.select_related(*RELATED).get(pk=order.pk)
    reveal = _reveal(request, [order], "api.work_order")
    return _order(request, order, reveal=reveal, detail=True)


def _staff_order(request, number: str, *perms: str) -> WorkOrder:
    """Object routes: the role must hold one of `perms` (else 403), the order must be visible (else 404)."""
    require_perm(request, *perms)
    return selectors.order_get(request.user, number)


def _act(fn, **kwargs):
    """Call a service; a refusal on the order's unit answers the same 404 as a missing order."""
    try:
        return fn(**kwargs)
    except PermissionDenied:
        raise Http404 from None


def _require_customer(request) -> None:
    if not is_customer(request.user):
        raise HttpError(403, _("仅限已登录的门户客户使用"))


def _portal_actor(request) -> Actor:
    return Actor.from_request(request, Channel.PORTAL)


def _valid_choice(errs: dict, field: str, value: str | None, choices) -> None:
    if value and value not in choices.values:
        errs[field] = [_("未知的取值：%(v)s") % {"v": value}]


# ---------------------------------------------------------------- routes: deadlines


@router.post(
    "/work-orders/deadlines",
    response={200: DeadlinePreviewOut, **WRITE_ERRORS},
    summary="预览工单时限（不保存）",
)
def deadlines_preview(request, payload: DeadlinePreviewIn):
    """The deadlines an order of this type, sub-type and area received at `received_at` would get, computed as on
    creation from the policy table and the working-day calendar; nothing is stored. Any staff role."""
    require_perm(request, Perm.WORKORDER_VIEW)
    for name in ("sub_type", "area"):  # null or absent only: an empty string is an unknown value
        if getattr(payload, name) == "":
            raise ValidationError({name: [_("不能为空字符串：不适用时请省略或填 null")]})
    planned = services.preview_deadlines(
        order_type=payload.type,
        sub_type=payload.sub_type,
        area=payload.area,
        received_at=_china(payload.received_at),
        arrived_at=_china(payload.arrived_at),
    )
    return {"deadlines": [_deadline(d) for d in planned]}


# ---------------------------------------------------------------- routes: staff


@router.post("/work-orders", response={201: WorkOrderOut, **WRITE_ERRORS}, summary="登记工单")
@idempotent
def work_order_create(request, payload: WorkOrderIn):
    """Register a request (workorder.handle on the account's unit; without an account, the caller's unit)."""
    require_perm(request, Perm.WORKORDER_HANDLE)
    with _fields(account="account_number"):
        created = _act(
            services.work_order_create,
            actor=api_actor(request),
            order_type=payload.type,
            channel=payload.channel or OrderChannel.PHONE,
            sub_type=payload.sub_type or None,
            account_number=(payload.account_number or "").strip() or None,
            caller_name=(payload.caller_name or "").strip(),
            phone=payload.phone or "",
            address=payload.address or "",
            area=payload.area or None,
            description=payload.description or "",
            priority=payload.priority or Priority.NORMAL,
            received_at=_china(payload.received_at),
        )
    order = WorkOrder.objects.select_related(*RELATED).get(pk=created.order.pk)
    reveal = _reveal(request, [order], "api.work_order")
    return Status(201, _order(request, order, reveal=reveal, deadlines=created.deadlines))


@router.get("/work-orders", response={200: WorkOrderPage, **LIST_ERRORS}, summary="工单列表")
def work_order_list(request, filters: Query[WorkOrderFilter], paging: Query[PageParams]):
    """Orders of the caller's units, newest received first (workorder.view)."""
    require_perm(request, Perm.WORKORDER_VIEW)
    errs: dict[str, list[str]] = {}
    _valid_choice(errs, "status", filters.status, Step)
    _valid_choice(errs, "type", filters.type, OrderType)
    _valid_choice(errs, "channel", filters.channel, OrderChannel)
    if filters.received_from and filters.received_to and filters.received_to < filters.received_from:
        errs["received_to"] = [_("截止日不能早于起始日")]
    if errs:
        raise ValidationError(errs)
    now = timezone.now()
    qs = selectors.orders_visible(request.user).select_related("unit", "account")
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.type:
        qs = qs.filter(order_type=filters.type)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.account_number:
        qs = qs.filter(account__account_number=filters.account_number.strip())
    if filters.phone:
        qs = qs.filter(phone=filters.phone.strip())
    if filters.number:
        qs = qs.filter(number=filters.number.strip())
    if filters.received_from:
        qs = qs.filter(received_at__gte=datetime.combine(filters.received_from, time.min, tzinfo=CHINA))
    if filters.received_to:
        end = datetime.combine(filters.received_to + timedelta(days=1), time.min, tzinfo=CHINA)
        qs = qs.filter(received_at__lt=end)
    if filters.overdue is not None:
        late = WorkOrderDeadline.objects.filter(order=OuterRef("pk"), met_at__isnull=True, due_at__lt=now)
        overdue = Exists(late) & ~Q(status__in=list(lifecycle.TERMINAL))
        qs = qs.filter(overdue) if filters.overdue else qs.exclude(overdue)
    qs = qs.prefetch_related(
        Prefetch("deadlines", queryset=WorkOrderDeadline.objects.filter(met_at__isnull=True))
    )
    page = paginate(qs, paging)
    orders = page["items"]
    reveal = _reveal(request, orders, "api.work_orders")
    page["items"] = [_row(o, reveal=reveal, now=now) for o in orders]
    return page


def _row(o: WorkOrder, *, reveal: bool, now: datetime) -> dict[str, Any]:
    open_ = o.status not in lifecycle.TERMINAL
    pending = [d.due_at for d in o.deadlines.all()] if open_ else []  # prefetched: unmet only
    return {
        "number": o.number,
        "type": o.order_type,
        "type_label": _label(OrderType, o.order_type),
        "sub_type": o.sub_type,
        "channel": o.channel,
        "status": o.status,
        "status_label": _label(Step, o.status),
        "priority": o.priority,
        "unit_id": o.unit_id,
        "unit_name": o.unit.name,
        "account_number": o.account.account_number if o.account_id else None,
        "caller_name": o.caller_name if reveal else mask_name(o.caller_name),
        "phone": o.phone if reveal else mask_phone(o.phone),
        "received_at": _out(o.received_at),
        "triage": o.triage,
        "next_due_at": _out(min(pending)) if pending else None,
        "overdue": any(due < now for due in pending),
    }


@router.get(
    "/work-orders/{number}",
    response={200: WorkOrderDetailOut, **READ_ERRORS, 403: ErrorOut},
    summary="工单详情",
)
def work_order_detail(request, number: Text):
    """The order with its event history, deadlines and attachments (workorder.view)."""
    return _detail(request, _staff_order(request, number, Perm.WORKORDER_VIEW))


@router.post(
    "/work-orders/{number}/actions",
    response={200: WorkOrderDetailOut, **WRITE_ERRORS},
    summary="工单操作（流转、退回、升级、转派、合并、催办、回访）",
)
def work_order_action(request, number: Text, payload: WorkOrderActionIn):
    """One action on the order; the lifecycle of its type decides what is allowed now (`allowed_actions`)."""
    order = _staff_order(request, number, Perm.WORKORDER_HANDLE, Perm.WORKORDER_DISPATCH)
    perm = Perm.WORKORDER_DISPATCH if payload.action in services.DISPATCH_ACTIONS else Perm.WORKORDER_HANDLE
    require_perm(request, perm)
    assignee = None
    if payload.assignee:
        assignee = _assignee(payload.assignee.strip(), order, perm)
    into = None
    if payload.into:
        into = selectors.orders_visible(request.user).filter(number=payload.into.strip()).first()
        if into is None:
            raise ValidationError({"into": [_("未找到工单 %(n)s") % {"n": payload.into}]})
    order = _act(
        services.work_order_act,
        actor=api_actor(request),
        order=order,
        action=payload.action,
        note=payload.note or "",
        assignee=assignee,
        unit_id=payload.unit,
        into=into,
        fault_cause=payload.fault_cause or "",
        resolution=payload.resolution or "",
        satisfaction=payload.satisfaction or "",
    )
    return _detail(request, order)


def _assignee(username: str, order: WorkOrder, perm: str):
    """The staff user named, who may take the order on its unit (dispatch: a repair crew), else 422."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None or not may_act_on_unit(user, order.unit_id, perm):
        raise ValidationError(
            {"assignee": [_("用户 %(u)s 不存在，或不能处理该单位的工单") % {"u": username}]}
        )
    return user


@router.post(
    "/work-orders/{number}/substantiate",
    response={200: WorkOrderDetailOut, **WRITE_ERRORS},
    summary="认定投诉是否属实",
)
def work_order_substantiate(request, number: Text, payload: WorkOrderSubstantiateIn):
    """A complaint is marked substantiated (属实) or not before it counts in complaint rates (workorder.handle)."""
    order = _staff_order(request, number, Perm.WORKORDER_HANDLE)
    order = _act(
        services.work_order_substantiate,
        actor=api_actor(request),
        order=order,
        substantiated=payload.substantiated,
        note=payload.note or "",
    )
    return _detail(request, order)


@router.post(
    "/work-orders/{number}/attachments",
    response={201: WorkOrderAttachmentOut, **WRITE_ERRORS},
    summary="上传工单附件",
)
def work_order_attach(request, number: Text, file: File[UploadedFile]):
    """An image (JPEG, PNG, GIF, WebP) or a PDF, checked by its content, at most 5 MB, at most 10 per order
    (workorder.handle)."""
    order = _staff_order(request, number, Perm.WORKORDER_HANDLE)
    if not may_act_on_unit(request.user, order.unit_id, Perm.WORKORDER_HANDLE):
        raise Http404
    name = (file.name or "file")[:200]
    if file.size is not None and file.size > attachments.MAX_BYTES:  # refused before the bytes are read
        mb = attachments.MAX_BYTES // (1024 * 1024)
        raise ValidationError({"file": [_("文件“%(n)s”超过 %(mb)d MB") % {"n": name, "mb": mb}]})
    att = attachments.attachment_add(
        actor=api_actor(request), order=order, name=name, data=b"".join(file.chunks())
    )
    return Status(
        201,
        {
            "id": att.pk,
            "name": att.name,
            "content_type": att.content_type,
            "size": att.size,
            "uploaded_at": _out(att.uploaded_at),
            "uploaded_by": request.user.get_username(),
        },
    )


@router.get(
    "/work-orders/{number}/attachments/{attachment_id}",
    response={200: None, **READ_ERRORS, 403: ErrorOut},
    summary="下载工单附件",
)
def work_order_attachment(request, number: Text, attachment_id: int):
    """The attached file itself (workorder.view on the order's unit)."""
    order = _staff_order(request, number, Perm.WORKORDER_VIEW)
    att = WorkOrderAttachment.objects.filter(order=order, pk=attachment_id).first()
    if att is None:
        raise Http404
    try:
        handle = att.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    return FileResponse(handle, content_type=att.content_type, as_attachment=True, filename=att.name)


# ---------------------------------------------------------------- routes: the portal customer's own orders


# The steps a customer is shown: the order's progress and their own actions, not the internal handling (returned
# to a colleague, escalated, transferred between units, judged substantiated or not).
CUSTOMER_STEPS = frozenset({"create", *lifecycle.ACTION_TO_STEP, "merge", "chase", "rate"})


def _my(o: WorkOrder) -> dict[str, Any]:
    open_ = o.status not in lifecycle.TERMINAL
    return {
        "number": o.number,
        "type": o.order_type,
        "type_label": _label(OrderType, o.order_type),
        "sub_type": o.sub_type,
        "sub_type_label": str(SUB_TYPE_LABELS.get(o.sub_type, "")),
        "channel": o.channel,
        "status": o.status,
        "status_label": _label(Step, o.status),
        "account_number": o.account.account_number if o.account_id else None,
        "description": o.description,
        "received_at": _out(o.received_at),
        "triage": o.triage,
        "outage_number": o.outage.number if o.outage_id else None,
        "resolution": o.resolution,
        "closed_at": _out(o.closed_at),
        "customer_rating": o.customer_rating,
        "customer_comment": o.customer_comment,
        "can_chase": open_,
        "can_rate": o.status == Step.CLOSED and not o.customer_rating,
        "deadlines": [
            {**_deadline(d), "label": _label(DeadlineName, d.name), "met_at": _out(d.met_at)}
            for d in _ordered(o.deadlines.all())
        ],
        "steps": [
            {
                "action": e.action,
                "status": e.to_status,
                "status_label": _label(Step, e.to_status),
                "at": _out(e.at),
            }
            for e in o.events.all()
            if e.action in CUSTOMER_STEPS
        ],
    }


def _my_orders(user):
    return (
        selectors.orders_of_customer(user)
        .select_related("account", "outage")
        .prefetch_related(
            "deadlines", Prefetch("events", queryset=WorkOrderEvent.objects.order_by("at", "id"))
        )
    )


def _my_order(request, number: str) -> WorkOrder:
    _require_customer(request)
    order = _my_orders(request.user).filter(number=number).first()
    if order is None:
        raise Http404
    return order


@router.get("/my/work-orders", response={200: MyWorkOrderPage, **LIST_ERRORS}, summary="我的工单")
def my_work_orders(request, paging: Query[PageParams]):
    """The portal customer's orders (submitted by them, or on an account bound to them), newest first."""
    _require_customer(request)
    return paginate(_my_orders(request.user), paging, _my)


# The portal pages' limits (service/portal_views.py), shared buckets: a script gains nothing by using the API.
MY_ORDERS_PER_HOUR = 20
MY_CHASE_SECONDS = 3600


@router.post(
    "/my/work-orders",
    response={201: MyWorkOrderOut, **WRITE_ERRORS, 429: ErrorOut},
    summary="提交工单（客户）",
)
@idempotent
def my_work_order_create(request, payload: MyWorkOrderIn):
    """Submit any type for an account bound to the customer, or with a phone and an address (channel portal);
    at most 20 an hour per customer (429)."""
    _require_customer(request)
    if not ratelimit.hit("portal_orders", str(request.user.pk), MY_ORDERS_PER_HOUR, 3600):
        raise HttpError(429, _("提交过于频繁，请稍后再试；紧急情况请拨打 95598"))
    from gridcare.portal.selectors import portal_accounts

    number = (payload.account_number or "").strip()
    if number and not portal_accounts(user=request.user).filter(account_number=number).exists():
        raise ValidationError({"account_number": [_("户号 %(n)s 未绑定到您的账号") % {"n": number}]})
    with _fields(account="account_number"):
        created = services.work_order_create(
            actor=_portal_actor(request),
            order_type=payload.type,
            channel=OrderChannel.PORTAL,
            sub_type=payload.sub_type or None,
            account_number=number or None,
            caller_name=(payload.caller_name or "").strip(),
            phone=payload.phone or "",
            address=payload.address or "",
            area=payload.area or None,
            description=payload.description or "",
            customer_user=request.user,
            check_unit=False,
        )
    return Status(201, _my(_my_orders(request.user).get(pk=created.order.pk)))


@router.get(
    "/my/work-orders/{number}",
    response={200: MyWorkOrderOut, **READ_ERRORS, 403: ErrorOut},
    summary="我的工单详情",
)
def my_work_order_detail(request, number: Text):
    """One of the customer's orders with its progress and deadlines."""
    return _my(_my_order(request, number))


@router.post(
    "/my/work-orders/{number}/chase",
    response={200: MyWorkOrderOut, **WRITE_ERRORS, 429: ErrorOut},
    summary="催办",
)
def my_work_order_chase(request, number: Text, payload: MyChaseIn):
    """The customer chases an open order (催办): recorded on it, its priority raised; once an hour per order (429)."""
    order = _my_order(request, number)
    open_ = (
        order.status not in lifecycle.TERMINAL
    )  # a closed order is refused by the service (422), not counted
    if open_ and not ratelimit.hit("portal_chase", f"{request.user.pk}:{order.pk}", 1, MY_CHASE_SECONDS):
        raise HttpError(429, _("您已催办过，请耐心等待，一小时后可再次催办"))
    services.work_order_customer_chase(actor=_portal_actor(request), order=order, note=payload.note or "")
    return _my(_my_orders(request.user).get(pk=order.pk))


@router.post("/my/work-orders/{number}/rate", response={200: MyWorkOrderOut, **WRITE_ERRORS}, summary="评价")
def my_work_order_rate(request, number: Text, payload: MyRateIn):
    """The customer rates a closed order, once: satisfied / basic / unsatisfied, with a comment."""
    order = _my_order(request, number)
    if payload.rating not in Satisfaction.values:
        raise ValidationError(
            {"rating": [_("请选择满意（satisfied）、基本满意（basic）或不满意（unsatisfied）")]}
        )
    services.work_order_rate(
        actor=_portal_actor(request), order=order, rating=payload.rating, comment=payload.comment or ""
    )
    return _my(_my_orders(request.user).get(pk=order.pk))
