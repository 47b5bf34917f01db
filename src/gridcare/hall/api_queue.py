"""The hall queue's JSON API (issue 16 §1–4). Mounted at /api/v1/ by gridcare/api.py.

Staff (hall.operate, scoped to the caller's unit subtree; a hall, counter or ticket outside it → 404):
- `POST /halls/{hall_id}/tickets`: issue a ticket at the greeter's desk (source `greeter`, its triage recorded) or
  for a kiosk customer (source `kiosk`): category code, phone, priority_reason (elderly / disabled / vip), and
  id_number (elderly by birth date; not stored). 201 with the ticket.
- `GET /halls/{hall_id}/queue`: the waiting tickets in call order (the first 200), and per category the waiting
  count, open counters, mean service minutes and estimated wait (the rule in `display.py`).
- `POST /counters/{counter_id}/actions` {action, ticket_id?, to_category?, to_counter_id?}: open, pause, resume,
  close, call_next, call, recall, start, finish, no_show, transfer. 200 with the counter's state and ticket.
- `GET /tickets/{ticket_id}`: a ticket and its steps.

Portal customers (their session or token):
- `POST /my/hall-tickets` {hall (code), category, phone?}: a remote ticket (phone defaults to the user's; one
  live remote ticket per phone); `GET /my/hall-tickets`: their open remote tickets with the live position;
  `POST /my/hall-tickets/{ticket_id}/cancel`.

Anonymous → 401; a role without the route's permission → 403 on the collection routes (issue, my tickets) and 404
on the object routes; bad input → 422 naming the field, nothing written. Phones are masked on the staff routes."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from gridcare.core.api import LIST_ERRORS, READ_ERRORS, WRITE_ERRORS, Text, api_actor, require_perm
from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.masking import mask_phone
from gridcare.core.permissions import Perm, is_customer
from gridcare.core.scoping import PermissionDenied
from gridcare.org.models import ServiceHall

from . import display, selectors, services, setup
from .choices import OPEN_TICKET, PriorityReason, TicketSource, TicketStatus
from .models import Ticket
from .views_queue import counter_act

router = Router(tags=["hall"])

QUEUE_LIMIT = 200
STAFF_SOURCES = (TicketSource.GREETER, TicketSource.KIOSK)


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class TicketIn(Strict):
    category: Text = Field(..., max_length=24, description="业务类别代码，如 payment")
    source: Text = Field("greeter", max_length=12, description="greeter（引导台）或 kiosk（自助取号机）")
    phone: Text = Field("", max_length=20, description="手机号（选填，临近叫号短信提醒）")
    priority_reason: Text = Field("", max_length=12, description="elderly / disabled / vip，空为普通")
    id_number: Text = Field("", max_length=18, description="身份证号（选填，按出生日期认定老年人，不保存）")
    note: Text = Field("", max_length=200, description="引导备注")


class TicketEventOut(Schema):
    kind: str
    at: datetime
    counter: int | None
    detail: dict


class TicketOut(Schema):
    id: int
    number: str
    hall_id: int
    hall: str
    category: str
    category_name: str
    source: str
    status: str
    priority_reason: str
    issued_at: datetime
    checked_in_at: datetime | None
    remote_called_at: datetime | None
    called_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    closed_at: datetime | None
    counter: int | None
    recall_count: int
    transfers: int
    phone: str
    ahead: int | None = None
    estimated_wait_minutes: int | None = None
    events: list[TicketEventOut] | None = None


class CategoryLineOut(Schema):
    category: str
    name: str
    waiting: int
    open_counters: int
    mean_service_minutes: float
    estimated_wait_minutes: int | None


class QueueItemOut(Schema):
    id: int
    number: str
    category: str
    priority_reason: str
    issued_at: datetime
    checked_in: bool
    target_counter: int | None


class QueueOut(Schema):
    hall_id: int
    waiting: list[QueueItemOut]
    categories: list[CategoryLineOut]


class CounterActionIn(Strict):
    action: Text = Field(..., max_length=20)
    ticket_id: int | None = Field(None, ge=1, le=2**62)
    to_category: Text | None = Field(None, max_length=24)
    to_counter_id: int | None = Field(None, ge=1, le=2**62)


class HallCounterOut(Schema):
    counter_id: int
    number: int
    state: str
    ticket: TicketOut | None
    current: TicketOut | None
    notice: str


class MyTicketIn(Strict):
    hall: Text = Field(..., max_length=24, description="营业厅代码")
    category: Text = Field(..., max_length=24)
    phone: Text = Field("", max_length=20, description="手机号，默认账号绑定的手机号")


class MyTicketsOut(Schema):
    items: list[TicketOut]


def _ticket(t: Ticket, *, mask: bool = True, position: bool = False, events: bool = False) -> dict:
    out = {
        "id": t.pk,
        "number": t.number,
        "hall_id": t.hall_id,
        "hall": t.hall.name,
        "category": t.category.code,
        "category_name": t.category.name,
        "source": t.source,
        "status": t.status,
        "priority_reason": t.priority_reason,
        "issued_at": t.issued_at,
        "checked_in_at": t.checked_in_at,
        "remote_called_at": t.remote_called_at,
        "called_at": t.called_at,
        "started_at": t.started_at,
        "finished_at": t.finished_at,
        "closed_at": t.closed_at,
        "counter": t.counter.number if t.counter is not None else None,
        "recall_count": t.recall_count,
        "transfers": t.transfers,
        "phone": mask_phone(t.phone) if mask and t.phone else t.phone,
    }
    if position:
        pos = display.ticket_position(t, timezone.now())
        out.update(ahead=pos.ahead, estimated_wait_minutes=pos.wait_minutes)
    if events:
        out["events"] = [
            {
                "kind": e.kind,
                "at": e.at,
                "counter": e.counter.number if e.counter is not None else None,
                "detail": e.detail,
            }
            for e in t.events.select_related("counter").order_by("at", "id")
        ]
    return out


def _load(pk: int) -> Ticket:
    return Ticket.objects.select_related("hall", "category", "counter").get(pk=pk)


@router.post(
    "/halls/{hall_id}/tickets", response={201: TicketOut, **WRITE_ERRORS}, summary="取号（引导台/自助取号机）"
)
def ticket_issue(request, hall_id: int, payload: TicketIn):
    require_perm(request, Perm.HALL_OPERATE)
    hall = selectors.hall_for(request.user, Perm.HALL_OPERATE, hall_id)
    if hall is None:
        raise Http404
    if payload.source not in STAFF_SOURCES:
        raise ValidationError({"source": [_("渠道须为 greeter（引导台）或 kiosk（自助取号机）")]})
    if payload.priority_reason and payload.priority_reason not in (
        PriorityReason.ELDERLY,
        PriorityReason.DISABLED,
        PriorityReason.VIP,
    ):
        raise ValidationError({"priority_reason": [_("优先原因须为 elderly、disabled 或 vip")]})
    actor = api_actor(request)
    id_number = payload.id_number.strip()
    if payload.source == TicketSource.GREETER:
        t = setup.greeter_issue(
            hall=hall,
            category=payload.category,
            actor=actor,
            phone=payload.phone,
            priority_reason=payload.priority_reason,
            id_number=id_number,
            note=payload.note,
        )
    else:
        t = services.ticket_issue(
            hall=hall,
            category=payload.category,
            source=TicketSource.KIOSK,
            actor=actor,
            phone=payload.phone,
            priority_reason=payload.priority_reason,
            id_number=id_number,
        )
    return Status(201, _ticket(_load(t.pk)))


@router.get("/halls/{hall_id}/queue", response={200: QueueOut, **READ_ERRORS}, summary="营业厅排队情况")
def hall_queue(request, hall_id: int):
    hall = selectors.hall_for(request.user, Perm.HALL_OPERATE, hall_id)
    if hall is None:
        raise Http404
    now = timezone.now()
    profile = services.hall_profile(hall)
    qs = Ticket.objects.filter(hall=hall, status=TicketStatus.WAITING)
    head = services.line_head(
        qs, n=QUEUE_LIMIT, now=now, guard=timedelta(minutes=profile.starvation_guard_minutes)
    )
    rows = {
        t.pk: t
        for t in Ticket.objects.select_related("category", "target_counter").filter(
            pk__in=[i.id for i in head]
        )
    }
    waiting = [
        {
            "id": t.pk,
            "number": t.number,
            "category": t.category.code,
            "priority_reason": t.priority_reason,
            "issued_at": t.issued_at,
            "checked_in": t.checked_in_at is not None,
            "target_counter": t.target_counter.number if t.target_counter is not None else None,
        }
        for t in (rows[i.id] for i in head if i.id in rows)
    ]
    lines = [
        {
            "category": line.category.code,
            "name": line.category.name,
            "waiting": line.waiting,
            "open_counters": line.counters,
            "mean_service_minutes": round(line.mean_minutes, 2),
            "estimated_wait_minutes": line.wait_minutes,
        }
        for line in display.category_lines(hall, now)
    ]
    return {"hall_id": hall.pk, "waiting": waiting, "categories": lines}


@router.post(
    "/counters/{counter_id}/actions",
    response={200: HallCounterOut, **WRITE_ERRORS},
    summary="窗口操作（叫号等）",
)
def counter_action(request, counter_id: int, payload: CounterActionIn):
    counter = selectors.counter_for(request.user, Perm.HALL_OPERATE, counter_id)
    if counter is None:
        raise Http404
    from .models import CounterSetup

    # A counter with no set-up is refused by the service (422, nothing written); its set-up page makes one.
    try:
        ticket, notice = counter_act(
            counter=counter,
            action=payload.action,
            actor=api_actor(request),
            ticket_id=payload.ticket_id,
            to_category=payload.to_category,
            to_counter_id=payload.to_counter_id,
        )
    except PermissionDenied:
        raise Http404 from None
    setup_row = CounterSetup.objects.get(pk=counter.pk)
    current = None
    if setup_row.current_id:
        cur = _load(setup_row.current_id)
        if cur.status in (TicketStatus.CALLED, TicketStatus.SERVING) and cur.counter_id == counter.pk:
            current = _ticket(cur)
    return {
        "counter_id": counter.pk,
        "number": counter.number,
        "state": setup_row.state,
        "ticket": _ticket(_load(ticket.pk)) if ticket is not None else None,
        "current": current,
        "notice": str(notice),
    }


@router.get("/tickets/{ticket_id}", response={200: TicketOut, **READ_ERRORS}, summary="排队号详情")
def ticket_detail(request, ticket_id: int):
    t = (
        selectors.tickets_for(request.user, Perm.HALL_OPERATE)
        .select_related("counter")
        .filter(pk=ticket_id)
        .first()
    )
    if t is None:
        raise Http404
    return _ticket(t, position=t.status == TicketStatus.WAITING, events=True)


# ---------------------------------------------------------------- portal


def _require_customer(request) -> None:
    if not is_customer(request.user):
        from ninja.errors import HttpError

        raise HttpError(403, _("仅限已登录的门户客户使用"))


def _mine(request):
    return Ticket.objects.select_related("hall", "category", "counter").filter(
        portal_user=request.user, source=TicketSource.PORTAL
    )


@router.post("/my/hall-tickets", response={201: TicketOut, **WRITE_ERRORS}, summary="远程取号（客户）")
def my_ticket_create(request, payload: MyTicketIn):
    """A remote ticket: check in at the hall (kiosk or greeter) before it is served."""
    _require_customer(request)
    hall = ServiceHall.objects.filter(code=payload.hall.strip()).first()
    if hall is None:
        raise ValidationError({"hall": [_("未找到该营业厅")]})
    phone = payload.phone.strip() or (getattr(request.user, "phone", "") or "")
    t = services.ticket_issue(
        hall=hall,
        category=payload.category,
        source=TicketSource.PORTAL,
        actor=Actor.from_request(request, Channel.PORTAL),
        phone=phone,
        portal_user=request.user,
    )
    return Status(201, _ticket(_load(t.pk), mask=False, position=True))


@router.get("/my/hall-tickets", response={200: MyTicketsOut, **LIST_ERRORS}, summary="我的远程排队号")
def my_tickets(request):
    _require_customer(request)
    items = _mine(request).filter(status__in=OPEN_TICKET).order_by("-issued_at")[:5]
    return {"items": [_ticket(t, mask=False, position=True) for t in items]}


@router.post(
    "/my/hall-tickets/{ticket_id}/cancel", response={200: TicketOut, **WRITE_ERRORS}, summary="取消远程排队号"
)
def my_ticket_cancel(request, ticket_id: int):
    _require_customer(request)
    t = _mine(request).filter(pk=ticket_id).first()
    if t is None:
        raise Http404
    services.ticket_cancel(ticket=t, actor=Actor.from_request(request, Channel.PORTAL))
    return _ticket(_load(t.pk), mask=False)
