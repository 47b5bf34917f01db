"""API of the hall appointments (issue 16 §5).

Portal customers (403 for anyone else):
- `GET /my/hall-appointments` — mine, newest slot first;
- `POST /my/hall-appointments` {hall_code or hall_id, category, slot_start} → 201; the phone is the customer's own;
- `POST /my/hall-appointments/{id}/cancel` — until the slot starts; another customer's answers 404.
Any logged-in user (customers and staff; halls are public):
- `GET /halls/{hall_id}/slots?category=&day=` — the day's slots with capacity and what remains.
Staff with hall.operate (403 for other roles; a hall outside their units 404):
- `GET /halls/{hall_id}/appointments?day=` — the day's appointments by category and slot (phones masked);
- `POST /halls/{hall_id}/appointments/check-in` {code, phone?} — the greeter checks one in: its ticket is issued.
Refusals of the rules answer 422 naming the field; nothing is written."""

from __future__ import annotations

from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from gridcare.core import ratelimit
from gridcare.core.api import LIST_ERRORS, READ_ERRORS, WRITE_ERRORS, ErrorOut, Text, api_actor, require_perm
from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.masking import mask_phone
from gridcare.core.permissions import Perm, is_customer
from gridcare.org.models import ServiceHall

from . import appointments, selectors
from .choices import AppointmentStatus
from .models import Appointment
from .opening import china_day

router = Router(tags=["hall"])

BOOKINGS_PER_HOUR = 20  # shared with the portal page: a script gains nothing by using the API
_ID_MAX = 2**63 - 1


class AppointmentOut(Schema):
    id: int
    code: str
    hall_id: int
    hall_code: str
    hall_name: str
    category: str
    category_name: str
    slot_start: datetime
    slot_end: datetime
    status: str
    status_label: str
    phone_masked: str
    created_at: datetime
    checked_in_at: datetime | None
    cancelled_at: datetime | None
    no_show_at: datetime | None
    ticket_number: str | None
    ticket_priority: bool | None
    may_cancel: bool


class AppointmentList(Schema):
    count: int
    items: list[AppointmentOut]


class BookIn(Schema):
    hall_code: Text | None = Field(None, max_length=30, description="营业厅编码（与 hall_id 二选一）")
    hall_id: int | None = Field(None, description="营业厅 id（与 hall_code 二选一）")
    category: Text = Field(..., max_length=24, description="业务类别代码，如 payment")
    slot_start: datetime = Field(
        ..., description="时段开始时间（无时区按北京时间），须为营业时间内的整半点时段"
    )


class SlotOut(Schema):
    start: datetime
    end: datetime
    capacity: int
    booked: int
    remaining: int
    bookable: bool


class SlotsOut(Schema):
    hall_id: int
    category: str
    day: date
    slots: list[SlotOut]


class SlotsQuery(Schema):
    category: Text = Field(..., max_length=24)
    day: date | None = Field(None, description="日期，默认今天（北京时间）")


class DayQuery(Schema):
    day: date | None = Field(None, description="日期，默认今天（北京时间）")


class StaffSlotOut(Schema):
    start: datetime
    end: datetime
    capacity: int
    booked: int
    remaining: int
    appointments: list[AppointmentOut]


class StaffCategoryOut(Schema):
    category: str
    category_name: str
    slots: list[StaffSlotOut]


class HallDayOut(Schema):
    hall_id: int
    day: date
    categories: list[StaffCategoryOut]


class CheckInIn(Schema):
    code: Text = Field(..., max_length=20, description="预约码")
    phone: Text = Field("", max_length=20, description="手机号（选填，填写时须与预约一致）")


class CheckInOut(Schema):
    appointment: AppointmentOut
    ticket_number: str
    priority: bool


def _row(a: Appointment, now: datetime) -> dict:
    t = a.ticket
    return {
        "id": a.pk,
        "code": a.code,
        "hall_id": a.hall_id,
        "hall_code": a.hall.code,
        "hall_name": a.hall.name,
        "category": a.category.code,
        "category_name": a.category.name,
        "slot_start": a.slot_start,
        "slot_end": a.slot_start + appointments.SLOT,
        "status": a.status,
        "status_label": str(AppointmentStatus(a.status).label),
        "phone_masked": mask_phone(a.phone),
        "created_at": a.created_at,
        "checked_in_at": a.checked_in_at,
        "cancelled_at": a.cancelled_at,
        "no_show_at": a.no_show_at,
        "ticket_number": t.number if t else None,
        "ticket_priority": bool(t.priority_reason) if t else None,
        "may_cancel": a.status == AppointmentStatus.BOOKED and now < a.slot_start,
    }


def _require_customer(request) -> None:
    if not is_customer(request.user):
        raise HttpError(403, _("仅限已登录的门户客户使用"))


def _portal_actor(request) -> Actor:
    return Actor.from_request(request, Channel.PORTAL)


def _hall(pk: int | None) -> ServiceHall | None:
    if pk is None or not 0 < pk <= _ID_MAX:
        return None
    return ServiceHall.objects.select_related("unit").filter(pk=pk).first()


def _staff_hall(request, hall_id: int) -> ServiceHall:
    require_perm(request, Perm.HALL_OPERATE)
    hall = selectors.hall_for(request.user, Perm.HALL_OPERATE, hall_id) if 0 < hall_id <= _ID_MAX else None
    if hall is None:
        raise Http404
    return hall


@router.get("/my/hall-appointments", response={200: AppointmentList, **LIST_ERRORS}, summary="我的营业厅预约")
def my_appointments(request):
    """The portal customer's appointments, newest slot first (the last 100)."""
    _require_customer(request)
    now = appointments.now()
    rows = list(appointments.appointments_of_customer(request.user)[:100])
    return {"count": len(rows), "items": [_row(a, now) for a in rows]}


@router.post(
    "/my/hall-appointments",
    response={201: AppointmentOut, **WRITE_ERRORS, 429: ErrorOut},
    summary="预约营业厅时段（客户）",
)
def my_appointment_book(request, payload: BookIn):
    """Book a 30-minute slot for a category at a hall with the customer's own phone; an SMS gives the code."""
    _require_customer(request)
    if payload.hall_code:
        hall = ServiceHall.objects.select_related("unit").filter(code=payload.hall_code.strip()).first()
        field = "hall_code"
    else:
        hall, field = _hall(payload.hall_id), "hall_id"
    if hall is None:
        raise ValidationError({field: [_("请指定存在的营业厅（hall_code 或 hall_id）")]})
    if not ratelimit.hit("hall_appt_book", str(request.user.pk), BOOKINGS_PER_HOUR, 3600):
        raise HttpError(429, _("预约过于频繁，请稍后再试"))
    now = appointments.now()
    a = appointments.appointment_book(
        actor=_portal_actor(request),
        hall=hall,
        category=payload.category,
        slot_start=payload.slot_start,
        phone=appointments.phone_of(request.user),
        portal_user=request.user,
        now=now,
    )
    return Status(201, _row(appointments.appointments_of_customer(request.user).get(pk=a.pk), now))


@router.post(
    "/my/hall-appointments/{appointment_id}/cancel",
    response={200: AppointmentOut, **WRITE_ERRORS},
    summary="取消预约（客户）",
)
def my_appointment_cancel(request, appointment_id: int):
    """Cancel one of the customer's booked appointments before its slot starts."""
    _require_customer(request)
    a = (
        appointments.appointment_of_customer(request.user, appointment_id)
        if appointment_id <= _ID_MAX
        else None
    )
    if a is None:
        raise Http404
    now = appointments.now()
    appointments.appointment_cancel(actor=_portal_actor(request), appointment=a, now=now)
    return _row(appointments.appointments_of_customer(request.user).get(pk=a.pk), now)


@router.get("/halls/{hall_id}/slots", response={200: SlotsOut, **READ_ERRORS}, summary="营业厅预约时段")
def hall_slots(request, hall_id: int, q: Query[SlotsQuery]):
    """The day's 30-minute slots of a bookable category at the hall with capacity and remaining places (any
    logged-in user: the halls are public)."""
    hall = _hall(hall_id)
    if hall is None:
        raise Http404
    now = appointments.now()
    day = q.day or china_day(now)
    rows = appointments.slots_for(hall, q.category, day, now=now)
    return {
        "hall_id": hall.pk,
        "category": q.category,
        "day": day,
        "slots": [
            {
                "start": s.start,
                "end": s.end,
                "capacity": s.capacity,
                "booked": s.booked,
                "remaining": s.remaining,
                "bookable": s.bookable,
            }
            for s in rows
        ],
    }


@router.get(
    "/halls/{hall_id}/appointments",
    response={200: HallDayOut, **READ_ERRORS, 403: ErrorOut},
    summary="营业厅当日预约",
)
def hall_appointments(request, hall_id: int, q: Query[DayQuery]):
    """The day's appointments of the hall by category and slot, with capacity used and remaining (hall.operate)."""
    hall = _staff_hall(request, hall_id)
    now = appointments.now()
    day = q.day or china_day(now)
    return {
        "hall_id": hall.pk,
        "day": day,
        "categories": [
            {
                "category": c["category"].code,
                "category_name": c["category"].name,
                "slots": [
                    {
                        "start": s["slot"].start,
                        "end": s["slot"].end,
                        "capacity": s["slot"].capacity,
                        "booked": s["slot"].booked,
                        "remaining": s["slot"].remaining,
                        "appointments": [_row(_with_hall(a, hall), now) for a in s["appointments"]],
                    }
                    for s in c["slots"]
                ],
            }
            for c in appointments.hall_day(hall, day)
        ],
    }


def _with_hall(a: Appointment, hall: ServiceHall) -> Appointment:
    a.hall = hall  # the page's hall, not one query per row
    return a


@router.post(
    "/halls/{hall_id}/appointments/check-in",
    response={200: CheckInOut, **WRITE_ERRORS},
    summary="预约签到（引导员）",
)
def hall_appointment_check_in(request, hall_id: int, payload: CheckInIn):
    """The greeter checks an appointment in by its code: its ticket is issued, a priority one when on time."""
    hall = _staff_hall(request, hall_id)
    now = appointments.now()
    a = appointments.appointment_check_in(
        actor=api_actor(request), hall=hall, code=payload.code, phone=payload.phone, now=now
    )
    a = Appointment.objects.select_related("hall", "category", "ticket").get(pk=a.pk)
    t = a.ticket
    assert t is not None  # a check-in always issues one
    return {
        "appointment": _row(a, now),
        "ticket_number": t.number,
        "priority": bool(t.priority_reason),
    }
