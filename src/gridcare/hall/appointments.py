"""Appointments at the hall (预约, issue 16 §5) and the priority of an appointment checked in on time (§2).

The rules (pure functions, fed plain values):
- `day_slots`: a hall's 30-minute slots of one China day — from `opens_at`, every 30 minutes, each ending no later
  than `closes_at` (08:30–17:30 gives 18 slots, the last at 17:00); none on a day the hall does not open (its
  weekdays, a `HallClosure`) or while it is not accepting customers.
- `slot_table`: each slot with its capacity, the live bookings (booked or checked in; a cancelled one frees its
  place) and what remains. A slot is bookable while it has not started (`now < slot_start`), its day is at most
  `BOOK_DAYS_AHEAD` (14) China days after today, and a place remains.
- `ban_until`: "after 3 no-shows in 90 days a phone cannot book for 30 days". Sort the phone's no-show instants;
  the 3rd, 4th… no-show *t[i]* triggers a ban when *t[i] − t[i−2] ≤ 90 days* (three no-shows exactly 90 days
  apart count; 90 days and one second do not). The ban lasts until *t[i] + 30 days*, exclusive: at that instant
  the phone may book again. The latest trigger decides.
- `checkin_window` / `is_on_time`: the kiosk checks an appointment in from `CHECKIN_EARLY_MINUTES` (30) before its
  slot until the slot ends (slot_start + 30 min, exclusive — then it is a no-show). Checked in no later than
  slot_start + the hall's `appointment_grace_minutes` (10, inclusive: at +10:00 yes, at +10:01 no), the ticket is a
  priority one (`PriorityReason.APPOINTMENT`); its `queue_at` is the check-in time.

A no-show's instant (`no_show_at`) is the end of its slot — the moment it became one — not the time the job noticed
it, so the ban never depends on the job's timing.

Limits where the issue is silent: one live booking per phone per slot (any hall — one person cannot be in two
places), at most `MAX_LIVE_PER_PHONE` (3) live bookings (booked, slot not yet ended) per phone. The customer may
cancel until the slot starts; staff may cancel on their behalf until it ends. The phone of a portal booking is the
customer's own (their login), so a banned customer cannot book under another number from the same login.

Capacity holds under concurrent bookings: the booking locks the `HallCategory` row (`select_for_update`; SQLite's
IMMEDIATE transactions lock the whole database) before counting the slot's live bookings.

Every write leaves an `AuditEvent` (hall.appointment_book / _cancel / _check_in / _no_show); the ticket a check-in
issues carries its own `TicketEvent` trail. Every function takes `now` for an injected clock; the pages and the API
read it from `now()` (a browser test replaces it)."""

from __future__ import annotations

import secrets
from collections import Counter as Tally
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, DateTimeField, ExpressionWrapper, F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.choices import Channel
from gridcare.core.permissions import Perm
from gridcare.core.scoping import require_unit
from gridcare.core.validators import MOBILE_RE
from gridcare.notify.outbox import transactional_sms_enqueue

from . import services
from .choices import AppointmentStatus, PriorityReason, TicketSource
from .models import Appointment, Category, HallCategory
from .opening import CHINA, china_day, is_open_day

SLOT = timedelta(minutes=30)
BOOK_DAYS_AHEAD = 14
CHECKIN_EARLY_MINUTES = 30
MAX_LIVE_PER_PHONE = 3
NO_SHOW_LIMIT = 3
NO_SHOW_WINDOW = timedelta(days=90)
BAN = timedelta(days=30)
LIVE = (AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN)  # what takes a place in a slot
CODE_DIGITS = 8


def now() -> datetime:
    """The clock of the appointment pages and API (a browser test replaces it)."""
    return timezone.now()


def _err(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def _local(at: datetime) -> str:
    return timezone.localtime(at, CHINA).strftime("%Y-%m-%d %H:%M")


# ---------------------------------------------------------------- pure rules


def day_slots(
    *,
    day: date,
    opens_at: time,
    closes_at: time,
    open_weekdays: str,
    closed_days: frozenset[date] | set[date] = frozenset(),
    accepting: bool = True,
) -> list[datetime]:
    """The aware starts of the hall's 30-minute slots on `day` (China time)."""
    if not accepting or not is_open_day(open_weekdays, closed_days, day):
        return []
    start = datetime.combine(day, opens_at, tzinfo=CHINA)
    close = datetime.combine(day, closes_at, tzinfo=CHINA)
    out = []
    while start + SLOT <= close:
        out.append(start)
        start += SLOT
    return out


def last_bookable_day(now_: datetime) -> date:
    return china_day(now_) + timedelta(days=BOOK_DAYS_AHEAD)


@dataclass(frozen=True)
class Slot:
    start: datetime
    capacity: int
    booked: int

    @property
    def end(self) -> datetime:
        return self.start + SLOT

    @property
    def remaining(self) -> int:
        return max(0, self.capacity - self.booked)


@dataclass(frozen=True)
class SlotRow(Slot):
    bookable: bool = False


def slot_table(
    *, starts: list[datetime], capacity: int, booked: dict[datetime, int], now: datetime
) -> list[SlotRow]:
    """Each slot with its capacity, live bookings and whether it may be booked at `now`."""
    last = last_bookable_day(now)
    rows = []
    for s in starts:
        n = booked.get(s, 0)
        rows.append(
            SlotRow(
                start=s,
                capacity=capacity,
                booked=n,
                bookable=now < s and china_day(s) <= last and n < capacity,
            )
        )
    return rows


def ban_until(no_shows: list[datetime], *, now: datetime) -> datetime | None:
    """Until when (exclusive) a phone with these no-show instants may not book, or None when it may."""
    times = sorted(no_shows)
    until = None
    for i in range(NO_SHOW_LIMIT - 1, len(times)):
        if times[i] - times[i - NO_SHOW_LIMIT + 1] <= NO_SHOW_WINDOW:
            until = times[i] + BAN
    return until if until is not None and now < until else None


def checkin_window(slot_start: datetime) -> tuple[datetime, datetime]:
    """[first, end) in which an appointment may be checked in."""
    return slot_start - timedelta(minutes=CHECKIN_EARLY_MINUTES), slot_start + SLOT


def is_on_time(*, slot_start: datetime, checked_in_at: datetime, grace_minutes: int) -> bool:
    """Checked in no later than slot_start + grace: the ticket goes to the priority line."""
    return checked_in_at <= slot_start + timedelta(minutes=grace_minutes)


# ---------------------------------------------------------------- reads


def bookable_categories(hall) -> list[HallCategory]:
    """The categories the hall offers for appointments, in the categories' order."""
    return list(
        HallCategory.objects.select_related("category")
        .filter(hall=hall, bookable=True, category__active=True)
        .order_by("category__sort", "category__letter")
    )


def _hall_category(hall, code_or_category) -> HallCategory:
    code = code_or_category.code if isinstance(code_or_category, Category) else str(code_or_category or "")
    hc = (
        HallCategory.objects.select_related("category")
        .filter(hall=hall, category__code=code[:24], category__active=True, bookable=True)
        .first()
    )
    if hc is None:
        raise _err("category", _("该营业厅没有可预约的此业务类别：%(c)s") % {"c": code[:24]})
    return hc


def capacity_of(hc: HallCategory, profile) -> int:
    return hc.slot_capacity if hc.slot_capacity is not None else profile.slot_capacity


def _starts(hall, day: date) -> list[datetime]:
    p = services.hall_profile(hall)
    return day_slots(
        day=day,
        opens_at=p.opens_at,
        closes_at=p.closes_at,
        open_weekdays=p.open_weekdays,
        closed_days=services.closed_days(hall, day, day),
        accepting=p.accepting,
    )


def _booked(hall, category_id: int, starts: list[datetime]) -> dict[datetime, int]:
    if not starts:
        return {}
    rows = (
        Appointment.objects.filter(
            hall=hall, category_id=category_id, status__in=LIVE, slot_start__range=(starts[0], starts[-1])
        )
        .values("slot_start")
        .annotate(n=Count("id"))
    )
    return {r["slot_start"]: r["n"] for r in rows}


def slots_for(hall, category, day: date, *, now: datetime) -> list[SlotRow]:
    """The day's slots of a bookable category at the hall (ValidationError on `category` otherwise)."""
    hc = _hall_category(hall, category)
    starts = _starts(hall, day)
    return slot_table(
        starts=starts,
        capacity=capacity_of(hc, services.hall_profile(hall)),
        booked=_booked(hall, hc.category_id, starts),
        now=now,
    )


def hall_day(hall, day: date) -> list[dict]:
    """The staff view of a day: per bookable category, its slots with capacity used and remaining and the
    appointments in each (three queries)."""
    profile = services.hall_profile(hall)
    starts = _starts(hall, day)
    first = datetime.combine(day, time(0), tzinfo=CHINA)
    appts = list(
        Appointment.objects.filter(hall=hall, slot_start__gte=first, slot_start__lt=first + timedelta(days=1))
        .select_related("category", "ticket")
        .order_by("slot_start", "id")
    )
    live = Tally((a.category_id, a.slot_start) for a in appts if a.status in LIVE)
    out = []
    for hc in bookable_categories(hall):
        cap = capacity_of(hc, profile)
        mine = [a for a in appts if a.category_id == hc.category_id]
        slot_starts = sorted(set(starts) | {a.slot_start for a in mine})
        out.append(
            {
                "category": hc.category,
                "slots": [
                    {
                        "slot": Slot(start=s, capacity=cap, booked=live[(hc.category_id, s)]),
                        "appointments": [a for a in mine if a.slot_start == s],
                    }
                    for s in slot_starts
                ],
            }
        )
    return out


def appointments_of_customer(user) -> QuerySet[Appointment]:
    return (
        Appointment.objects.filter(portal_user=user)
        .select_related("hall", "category", "ticket")
        .order_by("-slot_start", "-id")
    )


def appointment_of_customer(user, pk) -> Appointment | None:
    try:
        return appointments_of_customer(user).filter(pk=int(pk)).first()
    except (TypeError, ValueError, OverflowError):
        return None


def phone_of(user) -> str:
    """The portal customer's mobile number: their phone, else their login when it is one."""
    return services.mobile_of(user)


def no_show_times(phone: str, *, now: datetime) -> list[datetime]:
    # Only no-shows of the last 90 + 30 days can still ban.
    rows = Appointment.objects.filter(
        phone=phone, status=AppointmentStatus.NO_SHOW, no_show_at__gt=now - NO_SHOW_WINDOW - BAN
    ).values_list("no_show_at", flat=True)
    return [t for t in rows if t is not None]


# ---------------------------------------------------------------- writes


def _sms_context(a: Appointment) -> dict:
    return {
        "hall": a.hall.name,
        "slot": _local(a.slot_start),
        "category": a.category.name,
        "code": a.code,
    }


def _new_code() -> str:
    return "".join(secrets.choice("0123456789") for _i in range(CODE_DIGITS))


def _check_slot(hall, slot_start: datetime, now_: datetime) -> None:
    if timezone.is_naive(slot_start):
        slot_start = slot_start.replace(tzinfo=CHINA)
    if not (2000 <= slot_start.year <= 2100 and abs(now_ - slot_start) < timedelta(days=3650)):
        # Far outside any bookable window (and safe from a date overflow when converted to China time).
        raise _err("slot_start", _("不是可预约的时段"))
    day = china_day(slot_start)
    if slot_start not in _starts(hall, day):
        raise _err("slot_start", _("%(s)s 不是该营业厅营业时间内的预约时段") % {"s": _local(slot_start)})
    if slot_start <= now_:
        raise _err("slot_start", _("预约时段 %(s)s 已开始或已过去，不能预约") % {"s": _local(slot_start)})
    if day > last_bookable_day(now_):
        raise _err("slot_start", _("只能预约 %(n)s 天内的时段") % {"n": BOOK_DAYS_AHEAD})


def appointment_book(
    *,
    actor: Actor,
    hall,
    category,
    slot_start: datetime,
    phone: str,
    portal_user=None,
    now: datetime | None = None,
) -> Appointment:
    """Book a slot. Refused (nothing written) for an unknown or unbookable category, a slot that is not one of
    the hall's, has started or lies beyond the window, a banned phone, a second booking of the phone in the slot
    or past the live limit, and a full slot."""
    now_ = now or timezone.now()
    hc = _hall_category(hall, category)
    if timezone.is_naive(slot_start):
        slot_start = slot_start.replace(tzinfo=CHINA)
    _check_slot(hall, slot_start, now_)
    phone = (phone or "").strip()
    if not MOBILE_RE.match(phone):
        raise _err("phone", _("预约须使用有效的手机号"))
    until = ban_until(no_show_times(phone, now=now_), now=now_)
    if until is not None:
        raise _err(
            "phone",
            _("该手机号 90 天内爽约已达 %(k)s 次，%(u)s 前不能预约")
            % {"k": NO_SHOW_LIMIT, "u": _local(until)},
        )
    profile = services.hall_profile(hall)
    with transaction.atomic():
        hc = HallCategory.objects.select_for_update().select_related("category").get(pk=hc.pk)
        if Appointment.objects.filter(phone=phone, slot_start=slot_start, status__in=LIVE).exists():
            raise _err("slot_start", _("您在 %(s)s 已有一个预约") % {"s": _local(slot_start)})
        live = Appointment.objects.filter(
            phone=phone, status=AppointmentStatus.BOOKED, slot_start__gt=now_ - SLOT
        ).count()
        if live >= MAX_LIVE_PER_PHONE:
            raise _err(
                "phone", _("您已有 %(n)s 个未到期的预约，请办理或取消后再预约") % {"n": MAX_LIVE_PER_PHONE}
            )
        cap = capacity_of(hc, profile)
        taken = Appointment.objects.filter(
            hall=hall, category=hc.category, slot_start=slot_start, status__in=LIVE
        ).count()
        if taken >= cap:
            raise _err("slot_start", _("预约时段 %(s)s 已约满") % {"s": _local(slot_start)})
        appt = None
        for _attempt in range(5):
            try:
                with transaction.atomic():
                    appt = Appointment.objects.create(
                        hall=hall,
                        category=hc.category,
                        slot_start=slot_start,
                        phone=phone,
                        portal_user=portal_user,
                        code=_new_code(),
                        created_at=now_,
                    )
                break
            except IntegrityError:
                continue
        if appt is None:  # pragma: no cover — five colliding 8-digit codes
            raise _err("code", _("预约码生成失败，请重试"))
        context = _sms_context(appt) | {"grace": profile.appointment_grace_minutes}
        transactional_sms_enqueue(
            kind="hall_appt_booked",
            phone=phone,
            context=context,
            dedupe_key=f"hall_appt_booked:{appt.pk}",
            now=now_,
        )
        audit_record(
            actor=actor,
            action="hall.appointment_book",
            obj=appt,
            unit_id=hall.unit_id,
            changes={"hall": hall.code, "category": hc.category.code, "slot_start": slot_start.isoformat()},
        )
    return appt


def appointment_cancel(
    *, actor: Actor, appointment: Appointment, by_staff: bool = False, now: datetime | None = None
) -> Appointment:
    """Cancel a booked appointment: the customer until the slot starts; staff (hall.operate on the hall) on the
    customer's behalf until it ends. Frees the place; an SMS tells the customer."""
    now_ = now or timezone.now()
    hall = appointment.hall
    if by_staff:
        require_unit(actor, hall.unit_id, Perm.HALL_OPERATE)
    with transaction.atomic():
        a = Appointment.objects.select_for_update().select_related("hall", "category").get(pk=appointment.pk)
        if a.status != AppointmentStatus.BOOKED:
            raise _err("appointment", _("预约已%(s)s，不能取消") % {"s": a.get_status_display()})
        limit = a.slot_start + SLOT if by_staff else a.slot_start
        if now_ >= limit:
            raise _err(
                "appointment",
                _("预约时段已结束，不能取消") if by_staff else _("预约时段已开始，不能取消"),
            )
        a.status, a.cancelled_at = AppointmentStatus.CANCELLED, now_
        a.save(update_fields=["status", "cancelled_at"])
        transactional_sms_enqueue(
            kind="hall_appt_cancelled",
            phone=a.phone,
            context=_sms_context(a),
            dedupe_key=f"hall_appt_cancelled:{a.pk}",
            now=now_,
        )
        audit_record(
            actor=actor,
            action="hall.appointment_cancel",
            obj=a,
            unit_id=hall.unit_id,
            changes={"by": "staff" if by_staff else "customer", "slot_start": a.slot_start.isoformat()},
        )
    return a


def appointment_check_in(
    *, actor: Actor, hall, code: str, phone: str = "", device=None, now: datetime | None = None
) -> Appointment:
    """Check in the appointment `code` at `hall` (the kiosk's, or the greeter's through the API) and issue its
    ticket: a priority one when on time. `phone`, when given, must be the booking's."""
    now_ = now or timezone.now()
    require_unit(actor, hall.unit_id, Perm.HALL_OPERATE)
    code = "".join((code or "").split())[:20]
    if not code:
        raise _err("code", _("请输入预约码"))
    with transaction.atomic():
        a = (
            Appointment.objects.select_for_update()
            .select_related("hall", "category")
            .filter(hall=hall, code=code)
            .first()
        )
        phone = (phone or "").strip()
        if a is None or (phone and phone != a.phone):
            raise _err("code", _("预约码不正确，或不是本营业厅的预约"))
        if a.status != AppointmentStatus.BOOKED:
            raise _err("code", _("该预约已%(s)s") % {"s": a.get_status_display()})
        first, end = checkin_window(a.slot_start)
        if now_ < first:
            raise _err(
                "code",
                _("请于 %(t)s 之后签到（时段开始前 %(m)s 分钟起）")
                % {"t": _local(first), "m": CHECKIN_EARLY_MINUTES},
            )
        if now_ >= end:
            raise _err("code", _("预约时段已结束，请重新取号"))
        grace = services.hall_profile(hall).appointment_grace_minutes
        on_time = is_on_time(slot_start=a.slot_start, checked_in_at=now_, grace_minutes=grace)
        ticket = services.ticket_issue(
            hall=hall,
            category=a.category,
            source=TicketSource.APPOINTMENT,
            actor=actor,
            now=now_,
            phone=a.phone,
            priority_reason=PriorityReason.APPOINTMENT if on_time else "",
            portal_user=a.portal_user,
        )
        a.status, a.checked_in_at, a.ticket = AppointmentStatus.CHECKED_IN, now_, ticket
        a.save(update_fields=["status", "checked_in_at", "ticket"])
        audit_record(
            actor=actor,
            action="hall.appointment_check_in",
            obj=a,
            unit_id=hall.unit_id,
            changes={
                "ticket": ticket.number,
                "on_time": on_time,
                "device": getattr(device, "pk", None),
            },
        )
    return a


def no_show_mark(*, now: datetime | None = None) -> int:
    """Mark booked appointments whose slot has ended without a check-in as no-shows, set-based and idempotent;
    `no_show_at` is the end of the slot. Returns how many were marked."""
    now_ = now or timezone.now()
    with transaction.atomic():
        qs = Appointment.objects.filter(status=AppointmentStatus.BOOKED, slot_start__lte=now_ - SLOT)
        rows = list(qs.select_related("hall").only("id", "slot_start", "hall")[:10_000])
        if not rows:
            return 0
        # A slot the hall no longer offers (a closure day added, hours or days changed, the hall not accepting) is
        # the hall's doing, not a no-show of the customer: such bookings are cancelled and never count to a ban.
        offered: dict[tuple[int, date], set[datetime]] = {}
        gone: list[int] = []
        for a in rows:
            key = (a.hall_id, china_day(a.slot_start))
            if key not in offered:
                offered[key] = set(_starts(a.hall, key[1]))
            if a.slot_start not in offered[key]:
                gone.append(a.pk)
        if gone:
            Appointment.objects.filter(pk__in=gone, status=AppointmentStatus.BOOKED).update(
                status=AppointmentStatus.CANCELLED, cancelled_at=now_
            )
            audit_record(
                actor=Actor(channel=Channel.JOB),
                action="hall.appointment_cancel",
                object_type="hall.appointment",
                changes={"by": "hall_closed", "count": len(gone), "ids": gone[:200]},
            )
        ids = [a.pk for a in rows if a.pk not in set(gone)]
        if not ids:
            return 0
        n = Appointment.objects.filter(pk__in=ids, status=AppointmentStatus.BOOKED).update(
            status=AppointmentStatus.NO_SHOW,
            no_show_at=ExpressionWrapper(F("slot_start") + SLOT, output_field=DateTimeField()),
        )
        audit_record(
            actor=Actor(channel=Channel.JOB),
            action="hall.appointment_no_show",
            object_type="hall.appointment",
            changes={"count": n, "ids": ids[:200]},
        )
    return n + (no_show_mark(now=now_) if len(rows) == 10_000 else 0)
