"""The hall set-up page (hall.manage, issue 16): the profile numbers, the categories offered, each counter's
categories, closure days and the hall's devices (a new device's key and page address are shown once). Each
section posts its own form (`section`); a refused change re-renders the page with the message (400) and writes
nothing."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from gridcare.core.audit import Actor
from gridcare.core.permissions import Perm
from gridcare.core.scoping import PermissionDenied
from gridcare.core.views import staff_required

from . import devices, selectors, services, setup
from .choices import DeviceKind
from .forms_queue import ClosureForm, DeviceForm, ProfileForm
from .models import Category, CounterSetup, HallCategory, HallClosure, HallDevice, HallProfile
from .views_queue import add_form_errors

DEVICE_PAGES: dict[str, str] = {DeviceKind.DISPLAY: "hall:display", DeviceKind.KIOSK: "hall:kiosk"}


def _profile_form(hall, data=None) -> ProfileForm:
    # A fresh instance: the form's own cleaning must not touch the profile the service reads.
    return ProfileForm(data, instance=HallProfile.objects.get(pk=services.hall_profile(hall).pk))


def _context(hall, **over) -> dict:
    counters = list(hall.counters.order_by("number"))
    setups = {s.pk: s for s in CounterSetup.objects.filter(counter__hall=hall).prefetch_related("categories")}
    offered = set(HallCategory.objects.filter(hall=hall).values_list("category_id", flat=True))
    ctx = {
        "hall": hall,
        "profile_form": _profile_form(hall),
        "categories": list(Category.objects.filter(active=True)),
        "offered": offered,
        "counter_rows": [
            {
                "counter": c,
                "serves": {cat.pk for cat in setups[c.pk].categories.all()} if c.pk in setups else set(),
            }
            for c in counters
        ],
        "closures": list(HallClosure.objects.filter(hall=hall).order_by("-day")[:60]),
        "closure_form": ClosureForm(),
        "device_form": DeviceForm(counters=counters),
        "devices": list(
            HallDevice.objects.filter(hall=hall).select_related("counter").order_by("-created_at")
        ),
        "new_device": None,
        "errors": [],
    }
    ctx.update(over)
    return ctx


@staff_required(Perm.HALL_MANAGE)
@require_http_methods(["GET", "POST"])
def setup_page(request, hall_id: int):
    hall = selectors.hall_for(request.user, Perm.HALL_MANAGE, hall_id)
    if hall is None:
        raise Http404
    services.hall_setup_defaults(hall, actor=Actor.console(request))
    if request.method == "GET":
        return render(request, "hall/setup/setup.html", _context(hall))
    actor = Actor.console(request)
    section = request.POST.get("section", "")
    over: dict = {}
    ok = False
    try:
        if section == "profile":
            form = _profile_form(hall, request.POST)
            over["profile_form"] = form
            if form.is_valid():
                values = {f: form.cleaned_data[f] for f in setup.PROFILE_FIELDS}
                try:
                    setup.profile_update(hall=hall, actor=actor, values=values)
                    ok = True
                except ValidationError as exc:
                    add_form_errors(form, exc)
        elif section == "categories":
            setup.hall_categories_set(hall=hall, actor=actor, category_ids=request.POST.getlist("categories"))
            ok = True
        elif section == "counter":
            counter = hall.counters.filter(pk=_int(request.POST.get("counter_id"))).first()
            if counter is None:
                raise ValidationError({"counter": [_("请选择本营业厅的窗口")]})
            setup.counter_categories_set(
                counter=counter, actor=actor, category_ids=request.POST.getlist("categories")
            )
            ok = True
        elif section == "closure_add":
            cform = ClosureForm(request.POST)
            over["closure_form"] = cform
            if cform.is_valid():
                try:
                    setup.closure_add(
                        hall=hall,
                        actor=actor,
                        day=cform.cleaned_data["day"],
                        reason=cform.cleaned_data["reason"],
                    )
                    ok = True
                except ValidationError as exc:
                    add_form_errors(cform, exc)
        elif section == "closure_remove":
            closure = HallClosure.objects.filter(hall=hall, pk=_int(request.POST.get("closure_id"))).first()
            if closure is None:
                raise ValidationError({"closure": [_("未找到该闭厅日")]})
            setup.closure_remove(closure=closure, actor=actor)
            ok = True
        elif section == "device_add":
            counters = list(hall.counters.order_by("number"))
            dform = DeviceForm(request.POST, counters=counters)
            over["device_form"] = dform
            if dform.is_valid():
                d = dform.cleaned_data
                counter = next((c for c in counters if str(c.pk) == d["counter"]), None)
                try:
                    device, key = devices.device_create(
                        hall=hall, kind=d["kind"], counter=counter, name=d["name"], actor=actor
                    )
                except ValidationError as exc:
                    add_form_errors(dform, exc)
                else:
                    page = DEVICE_PAGES.get(device.kind)
                    url = request.build_absolute_uri(reverse(page, kwargs={"key": key})) if page else ""
                    return render(
                        request,
                        "hall/setup/setup.html",
                        _context(hall, new_device={"device": device, "key": key, "url": url}),
                    )
        elif section == "device_disable":
            gone = HallDevice.objects.filter(hall=hall, pk=_int(request.POST.get("device_id"))).first()
            if gone is None:
                raise ValidationError({"device": [_("未找到该设备")]})
            devices.device_disable(device=gone, actor=actor)
            ok = True
        else:
            raise ValidationError({"section": [_("未知的设置项")]})
    except ValidationError as exc:
        over["errors"] = list(exc.messages)
    except PermissionDenied:
        raise Http404 from None
    if ok:
        messages.success(request, _("已保存"))
        return redirect("hall:setup", hall_id=hall.pk)
    return render(request, "hall/setup/setup.html", _context(hall, **over), status=400)


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
