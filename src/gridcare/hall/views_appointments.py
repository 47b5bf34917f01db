"""Staff and kiosk pages of the hall appointments (issue 16 §5).

- `appointments` (/hall/<hall_id>/appointments/, hall.operate, the hall in the user's units — else 404): the day's
  appointments by category and slot with their status, capacity used and remaining; phones masked. The greeter
  checks one in by its code (`appointment_checkin`, POST) and cancels one on a customer's behalf
  (`appointment_cancel`, POST, audited).
- `kiosk_appointment_checkin` (/hall/d/<key>/kiosk/checkin/, the kiosk's device key — any other answers 404):
  the customer types the appointment code (and, optionally, the phone); the page shows the ticket number, marked
  priority when checked in on time."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.clientip import client_ip
from gridcare.core.permissions import Perm
from gridcare.core.scoping import PermissionDenied
from gridcare.core.views import staff_required

from . import appointments, devices, selectors
from .choices import DeviceKind
from .models import Appointment
from .opening import china_day


def _hall(request, hall_id: int):
    hall = selectors.hall_for(request.user, Perm.HALL_OPERATE, hall_id)
    if hall is None:
        raise Http404
    return hall


def _day(request, now) -> date:
    raw = (request.GET.get("day") or request.POST.get("day") or "")[:10]
    try:
        day = date.fromisoformat(raw) if raw else china_day(now)
    except ValueError:
        day = china_day(now)
    return day if date(2000, 1, 1) <= day <= date(2100, 12, 31) else china_day(now)


def _back(hall, day: date) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"{reverse('hall:appointments', args=[hall.pk])}?day={day.isoformat()}")


@staff_required(Perm.HALL_OPERATE)
@require_http_methods(["GET"])
def appointments_page(request, hall_id: int):
    hall = _hall(request, hall_id)
    now = appointments.now()
    day = _day(request, now)
    rows = appointments.hall_day(hall, day)
    totals = {"capacity": 0, "booked": 0}
    for c in rows:
        for s in c["slots"]:
            totals["capacity"] += s["slot"].capacity
            totals["booked"] += s["slot"].booked
            for a in s["appointments"]:
                a.may_cancel = a.status == "booked" and now < a.slot_start + appointments.SLOT
    return render(
        request,
        "hall/appointments/staff.html",
        {"hall": hall, "day": day, "rows": rows, "totals": totals, "now": now},
    )


@staff_required(Perm.HALL_OPERATE)
@require_POST
def appointment_cancel(request, hall_id: int, pk: int):
    hall = _hall(request, hall_id)
    a = Appointment.objects.select_related("hall").filter(hall=hall, pk=pk).first()
    if a is None:
        raise Http404
    try:
        appointments.appointment_cancel(
            actor=Actor.console(request), appointment=a, by_staff=True, now=appointments.now()
        )
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as e:
        for m in e.messages:
            messages.error(request, m)
    else:
        messages.success(request, _("已为客户取消预约 %(c)s") % {"c": a.code})
    return _back(hall, china_day(a.slot_start))


@staff_required(Perm.HALL_OPERATE)
@require_POST
def appointment_checkin(request, hall_id: int):
    hall = _hall(request, hall_id)
    now = appointments.now()
    try:
        a = appointments.appointment_check_in(
            actor=Actor.console(request), hall=hall, code=request.POST.get("code", "")[:20], now=now
        )
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as e:
        for m in e.messages:
            messages.error(request, m)
    else:
        t = a.ticket
        assert t is not None  # a check-in always issues one
        messages.success(
            request,
            _("预约 %(c)s 已签到，排队号 %(n)s%(p)s")
            % {"c": a.code, "n": t.number, "p": _("（优先）") if t.priority_reason else ""},
        )
    return _back(hall, _day(request, now))


@require_http_methods(["GET", "POST"])
def kiosk_appointment_checkin(request, key: str):
    now = appointments.now()
    device = devices.device_for_key(key, DeviceKind.KIOSK, now=now)
    if device is None:
        raise Http404
    ctx: dict = {"device": device, "hall": device.hall, "key": key, "error": "", "ticket": None}
    status = 200
    if request.method == "POST":
        code = (request.POST.get("code") or "")[:20]
        phone = (request.POST.get("phone") or "")[:20]
        ctx.update(code=code, phone=phone)
        try:
            a = appointments.appointment_check_in(
                # The device acts, never whoever may be logged in on the kiosk's browser.
                actor=Actor(channel=Channel.SYSTEM, ip=client_ip(request)),
                hall=device.hall,
                code=code,
                phone=phone,
                device=device,
                now=now,
            )
        except ValidationError as e:
            ctx["error"] = " ".join(e.messages)
            status = 400
        else:
            ctx.update(appointment=a, ticket=a.ticket, code="", phone="")
    return render(request, "hall/appointments/kiosk_checkin.html", ctx, status=status)
