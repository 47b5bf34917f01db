"""Portal pages of the hall appointments (issue 16 §5), under /portal/hall/appointments/ (logged-in customers:
anonymous → the portal login, staff → 404).

- `appointments`: my appointments (with their code, status and ticket) and the booking: choose a hall, a category
  and a day (GET), then one of the day's slots with places left (POST `appointment_book`). The phone is the
  customer's own. A refusal (full or past slot, banned phone…) re-renders the page with the message (400).
- `appointment_cancel` (POST): cancel one of mine before its slot starts; another customer's answers 404."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from gridcare.core import ratelimit
from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.views import customer_required
from gridcare.org.models import ServiceHall
from gridcare.portal.forms import add_service_errors

from . import appointments, services
from .choices import AppointmentStatus
from .models import HallCategory
from .opening import china_day

BOOKINGS_PER_HOUR = 20  # the API's bucket too


def _actor(request) -> Actor:
    return Actor.from_request(request, Channel.PORTAL)


class PickForm(forms.Form):
    """Hall, category and day: which slots to show."""

    hall = forms.TypedChoiceField(label=gettext_lazy("营业厅"), coerce=int)
    category = forms.ChoiceField(label=gettext_lazy("业务类别"))
    day = forms.ChoiceField(label=gettext_lazy("日期"))

    def __init__(self, *args, now: datetime, halls, categories, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["hall"].choices = [(h.pk, f"{h.name}（{h.address}）") for h in halls]
        self.fields["category"].choices = categories
        today = china_day(now)
        days = [today + timedelta(days=k) for k in range(appointments.BOOK_DAYS_AHEAD + 1)]
        self.fields["day"].choices = [(d.isoformat(), d.strftime("%Y-%m-%d")) for d in days]


class BookForm(PickForm):
    slot = forms.DateTimeField(label=gettext_lazy("时段"), input_formats=["%Y-%m-%dT%H:%M:%S%z"])


def _halls():
    return list(ServiceHall.objects.filter(hall_categories__bookable=True).distinct().order_by("code"))


def _categories():
    seen: dict[str, str] = {}
    for code, name in (
        HallCategory.objects.filter(bookable=True, category__active=True)
        .order_by("category__sort", "category__letter")
        .values_list("category__code", "category__name")
    ):
        seen.setdefault(code, name)
    return list(seen.items())


def _page(request, *, form, slots=None, status=200):
    now = appointments.now()
    mine = list(appointments.appointments_of_customer(request.user)[:50])
    for a in mine:
        a.may_cancel = a.status == AppointmentStatus.BOOKED and now < a.slot_start
        a.slot_end = a.slot_start + appointments.SLOT
    return render(
        request,
        "hall/appointments/portal.html",
        {
            "form": form,
            "slots": slots,
            "mine": mine,
            "phone": appointments.phone_of(request.user),
            "days_ahead": appointments.BOOK_DAYS_AHEAD,
            "early": appointments.CHECKIN_EARLY_MINUTES,
        },
        status=status,
    )


def _slots(form, now) -> list | None:
    from datetime import date

    hall = ServiceHall.objects.filter(pk=form.cleaned_data["hall"]).first()
    if hall is None:
        form.add_error("hall", _("请选择营业厅"))
        return None
    try:
        return appointments.slots_for(
            hall, form.cleaned_data["category"], date.fromisoformat(form.cleaned_data["day"]), now=now
        )
    except ValidationError as e:
        add_service_errors(form, e)
        return None


@customer_required
@require_http_methods(["GET", "POST"])
def appointments_page(request):
    now = appointments.now()
    kw = {"now": now, "halls": _halls(), "categories": _categories()}
    if request.method == "GET":
        if "hall" not in request.GET:
            return _page(request, form=PickForm(**kw))
        form = PickForm(request.GET, **kw)
        if not form.is_valid():
            return _page(request, form=form, status=400)
        slots = _slots(form, now)
        return _page(request, form=form, slots=slots, status=200 if slots is not None else 400)
    form = BookForm(request.POST, **kw)
    if form.is_valid():
        slots = _slots(form, now)
        if slots is not None:
            hall = ServiceHall.objects.get(pk=form.cleaned_data["hall"])
            if not ratelimit.hit("hall_appt_book", str(request.user.pk), BOOKINGS_PER_HOUR, 3600):
                form.add_error(None, _("预约过于频繁，请稍后再试"))
            else:
                try:
                    a = appointments.appointment_book(
                        actor=_actor(request),
                        hall=hall,
                        category=form.cleaned_data["category"],
                        slot_start=form.cleaned_data["slot"],
                        phone=appointments.phone_of(request.user),
                        portal_user=request.user,
                        now=now,
                    )
                except ValidationError as e:
                    add_service_errors(form, e)
                    if "phone" in e.message_dict:  # the ban, the live limit: not a field of this form
                        for m in e.message_dict["phone"]:
                            form.add_error(None, m)
                    slots = _slots(form, now)
                else:
                    messages.success(
                        request,
                        _(
                            "预约成功，预约码 %(c)s：请于时段开始前 %(m)s 分钟至开始后 %(g)s 分钟内到厅签到，可优先办理"
                        )
                        % {
                            "c": a.code,
                            "m": appointments.CHECKIN_EARLY_MINUTES,
                            "g": services.hall_profile(hall).appointment_grace_minutes,
                        },
                    )
                    return HttpResponseRedirect(reverse("portal_hall:appointments"))
        return _page(request, form=form, slots=slots, status=400)
    return _page(request, form=form, status=400)


@customer_required
@require_POST
def appointment_cancel(request, pk: int):
    a = appointments.appointment_of_customer(request.user, pk)
    if a is None:
        raise Http404
    try:
        appointments.appointment_cancel(actor=_actor(request), appointment=a, now=appointments.now())
    except ValidationError as e:
        for m in e.messages:
            messages.error(request, m)
    else:
        messages.success(request, _("已取消预约 %(c)s") % {"c": a.code})
    return HttpResponseRedirect(reverse("portal_hall:appointments"))
