"""Pages of the hall queue (issue 16 §1, §3, §4): the hall list, the greeter's tablet (引导台), the counter
console, and the device pages of the TV display and the kiosk (opened with a device key, no user).

Views parse input and call one service (`services.py`, `setup.py`) or read (`display.py`, `selectors.py`); a
refused step shows the service's message and writes nothing. A hall or counter outside the user's units answers
404, like a missing one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gridcare.core.audit import Actor
from gridcare.core.permissions import Perm
from gridcare.core.scoping import PermissionDenied
from gridcare.core.views import staff_required
from gridcare.org.models import Counter, ServiceHall

from . import devices, display, selectors, services, setup
from .choices import CounterState, DeviceKind, TicketSource, TicketStatus
from .forms_queue import CheckInForm, GreeterForm, KioskTicketForm, TransferForm
from .models import Category, CounterSetup, HallCategory, HallDevice, Ticket

ANY_HALL_PERM = (Perm.HALL_OPERATE, Perm.HALL_REPORT, Perm.HALL_MANAGE)


def _errors(exc: ValidationError) -> list[str]:
    return list(exc.messages)


def offered_categories(hall) -> list[Category]:
    return [
        hc.category
        for hc in HallCategory.objects.filter(hall=hall, category__active=True)
        .select_related("category")
        .order_by("category__sort", "category__letter")
    ]


def add_form_errors(form, exc: ValidationError) -> None:
    """A service's {field: [messages]} on the form (unknown fields on the form as a whole)."""
    errors = exc.message_dict if hasattr(exc, "message_dict") else {"__all__": exc.messages}
    for field, msgs in errors.items():
        for m in msgs:
            form.add_error(field if field in form.fields else None, m)


# ---------------------------------------------------------------- hall list


@staff_required(*ANY_HALL_PERM)
@require_GET
def index(request):
    user = request.user
    seen: dict[int, ServiceHall] = {}
    for perm in ANY_HALL_PERM:
        for h in selectors.halls_for(user, perm):
            seen.setdefault(h.pk, h)
    halls = sorted(seen.values(), key=lambda h: h.code)
    ids = [h.pk for h in halls]
    counters: dict[int, list] = {}
    for c in Counter.objects.filter(hall_id__in=ids).select_related("setup").order_by("number"):
        counters.setdefault(c.hall_id, []).append(c)
    displays: dict[int, int] = {}
    for hall_id in HallDevice.objects.filter(
        hall_id__in=ids, kind=DeviceKind.DISPLAY, enabled=True
    ).values_list("hall_id", flat=True):
        displays[hall_id] = displays.get(hall_id, 0) + 1
    may_operate = {h.pk for h in selectors.halls_for(user, Perm.HALL_OPERATE).filter(pk__in=ids)}
    may_manage = {h.pk for h in selectors.halls_for(user, Perm.HALL_MANAGE).filter(pk__in=ids)}
    may_report = {h.pk for h in selectors.halls_for(user, Perm.HALL_REPORT).filter(pk__in=ids)}
    rows = [
        {
            "hall": h,
            "counters": counters.get(h.pk, []),
            "displays": displays.get(h.pk, 0),
            "operate": h.pk in may_operate,
            "manage": h.pk in may_manage,
            "report": h.pk in may_report,
        }
        for h in halls
    ]
    return render(request, "hall/queue/index.html", {"rows": rows})


# ---------------------------------------------------------------- greeter


def _hall_or_404(request, hall_id, perm=Perm.HALL_OPERATE) -> ServiceHall:
    hall = selectors.hall_for(request.user, perm, hall_id)
    if hall is None:
        raise Http404
    return hall


@staff_required(Perm.HALL_OPERATE)
@require_http_methods(["GET", "POST"])
def greeter(request, hall_id: int):
    hall = _hall_or_404(request, hall_id)
    cats = offered_categories(hall)
    form = GreeterForm(categories=cats)
    checkin = CheckInForm(prefix="ci")
    issued = triaged = checked = None
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "ticket")
        actor = Actor.console(request)
        try:
            if action == "checkin":
                checkin = CheckInForm(request.POST, prefix="ci")
                if checkin.is_valid():
                    try:
                        checked = setup.remote_check_in(
                            hall=hall,
                            number=checkin.cleaned_data["number"],
                            phone=checkin.cleaned_data["phone"],
                            actor=actor,
                        )
                        checkin = CheckInForm(prefix="ci")
                    except ValidationError as exc:
                        add_form_errors(checkin, exc)
                if checked is None:
                    status = 400
            else:
                form = GreeterForm(request.POST, categories=cats)
                if form.is_valid():
                    d = form.cleaned_data
                    try:
                        if action == "self_service":
                            triaged = setup.greeter_self_service(
                                hall=hall, category=d["category"], actor=actor, note=d["note"]
                            )
                        else:
                            issued = setup.greeter_issue(
                                hall=hall,
                                category=d["category"],
                                actor=actor,
                                phone=d["phone"],
                                priority_reason=d["priority_reason"] or "",
                                id_number=(d["id_number"] or "").strip(),
                                note=d["note"],
                            )
                        form = GreeterForm(categories=cats)
                    except ValidationError as exc:
                        add_form_errors(form, exc)
                if issued is None and triaged is None:
                    status = 400
        except PermissionDenied:
            raise Http404 from None
    now = timezone.now()
    ctx = {
        "hall": hall,
        "form": form,
        "checkin": checkin,
        "issued": issued,
        "triaged": triaged,
        "checked": checked,
        "lines": display.category_lines(hall, now),
        "self_service": [c for c in cats if c.self_service],
    }
    return render(request, "hall/queue/greeter.html", ctx, status=status)


# ---------------------------------------------------------------- counter console


def _counter_or_404(request, counter_id):
    counter = selectors.counter_for(request.user, Perm.HALL_OPERATE, counter_id)
    if counter is None:
        raise Http404
    if not CounterSetup.objects.filter(pk=counter.pk).exists():
        # A counter added after the hall was set up: it gets the defaults (every category), audited.
        services.hall_setup_defaults(counter.hall, actor=Actor.console(request))
    return counter


def _panel_context(counter, *, errors=(), notice="") -> dict:
    now = timezone.now()
    setup_row = CounterSetup.objects.select_related("current__category", "clerk").get(pk=counter.pk)
    current = setup_row.current
    if current is not None and (
        current.status not in (TicketStatus.CALLED, TicketStatus.SERVING) or current.counter_id != counter.pk
    ):
        current = None
    profile = services.hall_profile(counter.hall)
    return {
        "counter": counter,
        "hall": counter.hall,
        "setup": setup_row,
        "served": list(setup_row.categories.order_by("sort", "letter")),
        "current": current,
        "max_recalls": profile.max_recalls,
        "may_no_show": current is not None
        and current.status == TicketStatus.CALLED
        and current.recall_count >= profile.max_recalls,
        "may_recall": current is not None
        and current.status == TicketStatus.CALLED
        and current.recall_count < profile.max_recalls,
        "waiting": display.counter_waiting(counter, now) if setup_row.state != CounterState.CLOSED else [],
        "categories": offered_categories(counter.hall),
        "other_counters": list(counter.hall.counters.exclude(pk=counter.pk).order_by("number")),
        "errors": list(errors),
        "notice": notice,
        "states": CounterState,
    }


@staff_required(Perm.HALL_OPERATE)
@require_GET
def counter_page(request, counter_id: int):
    counter = _counter_or_404(request, counter_id)
    template = (
        "hall/queue/counter_panel.html" if getattr(request, "htmx", False) else "hall/queue/counter.html"
    )
    return render(request, template, _panel_context(counter))


COUNTER_ACTIONS: dict[str, Callable[..., Any]] = {
    "open": services.counter_open,
    "pause": services.counter_pause,
    "resume": services.counter_resume,
    "close": services.counter_close,
    "recall": services.ticket_recall,
    "start": services.ticket_start,
    "finish": services.ticket_finish,
    "no_show": services.ticket_no_show,
}


def counter_act(*, counter, action: str, actor: Actor, ticket_id=None, to_category=None, to_counter_id=None):
    """One console action on `counter` (shared with the API). Returns a short notice. ValidationError for bad
    input; PermissionDenied when the user may not operate it."""
    if action in COUNTER_ACTIONS:
        result = COUNTER_ACTIONS[action](counter=counter, actor=actor)
        if isinstance(result, Ticket):
            return result, ""
        return None, ""
    if action == "call_next":
        called = services.ticket_call_next(counter=counter, actor=actor)
        if called.ticket is None:
            return None, _("当前没有等候的号码")
        return called.ticket, ""
    if action == "call":
        ticket = (
            Ticket.objects.select_related("category").filter(pk=_int(ticket_id), hall=counter.hall).first()
        )
        if ticket is None:
            raise ValidationError({"ticket_id": [_("请选择本营业厅等候中的号码")]})
        return services.ticket_call(counter=counter, ticket=ticket, actor=actor).ticket, ""
    if action == "transfer":
        to_counter = None
        if to_counter_id not in (None, ""):
            to_counter = Counter.objects.filter(pk=_int(to_counter_id), hall=counter.hall).first()
            if to_counter is None:
                raise ValidationError({"to_counter_id": [_("只能转往本营业厅的窗口")]})
        return services.ticket_transfer(
            counter=counter, to_category=to_category or None, to_counter=to_counter, actor=actor
        ), ""
    raise ValidationError({"action": [_("未知的操作：%(a)s") % {"a": str(action)[:20]}]})


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


@staff_required(Perm.HALL_OPERATE)
@require_POST
def counter_action(request, counter_id: int):
    counter = _counter_or_404(request, counter_id)
    errors, notice = [], ""
    action = request.POST.get("action", "")
    transfer = TransferForm(request.POST)
    transfer.is_valid()
    try:
        _t, notice = counter_act(
            counter=counter,
            action=action,
            actor=Actor.console(request),
            ticket_id=request.POST.get("ticket_id"),
            to_category=(transfer.cleaned_data.get("to_category") or "").strip() or None,
            to_counter_id=transfer.cleaned_data.get("to_counter_id"),
        )
    except ValidationError as exc:
        errors = _errors(exc)
    except PermissionDenied:
        raise Http404 from None
    if getattr(request, "htmx", False):
        return render(
            request,
            "hall/queue/counter_panel.html",
            _panel_context(counter, errors=errors, notice=notice),
            status=400 if errors else 200,
        )
    for e in errors:
        messages.error(request, e)
    if notice:
        messages.info(request, notice)
    return redirect("hall:counter", counter_id=counter.pk)


# ---------------------------------------------------------------- device pages


def _device(key: str, kind: str) -> HallDevice:
    device = devices.device_for_key(key, kind)
    if device is None:
        raise Http404
    return device


@require_GET
def display_page(request, key: str):
    device = _device(key, DeviceKind.DISPLAY)
    ctx = {"device": device, "hall": device.hall, "key": key, **display.board(device.hall, timezone.now())}
    template = (
        "hall/queue/display_board.html" if getattr(request, "htmx", False) else "hall/queue/display.html"
    )
    return render(request, template, ctx)


@require_GET
def display_board(request, key: str):
    device = _device(key, DeviceKind.DISPLAY)
    ctx = {"device": device, "hall": device.hall, "key": key, **display.board(device.hall, timezone.now())}
    return render(request, "hall/queue/display_board.html", ctx)


@require_http_methods(["GET", "POST"])
def kiosk(request, key: str):
    device = _device(key, DeviceKind.KIOSK)
    hall = device.hall
    cats = offered_categories(hall)
    form = KioskTicketForm(categories=cats)
    checkin = CheckInForm(prefix="ci", need_both=True)
    issued = checked = None
    status = 200
    if request.method == "POST":
        if request.POST.get("action") == "checkin":
            checkin = CheckInForm(request.POST, prefix="ci", need_both=True)
            if checkin.is_valid():
                try:
                    checked = setup.remote_check_in(
                        hall=hall, number=checkin.cleaned_data["number"], phone=checkin.cleaned_data["phone"]
                    )
                    checkin = CheckInForm(prefix="ci", need_both=True)
                except ValidationError as exc:
                    add_form_errors(checkin, exc)
            status = 200 if checked else 400
        else:
            form = KioskTicketForm(request.POST, categories=cats)
            if form.is_valid():
                try:
                    issued = services.ticket_issue(
                        hall=hall,
                        category=form.cleaned_data["category"],
                        source=TicketSource.KIOSK,
                        phone=form.cleaned_data["phone"],
                    )
                    form = KioskTicketForm(categories=cats)
                except ValidationError as exc:
                    add_form_errors(form, exc)
            status = 200 if issued else 400
    ctx = {
        "device": device,
        "hall": hall,
        "key": key,
        "form": form,
        "checkin": checkin,
        "issued": issued,
        "checked": checked,
        "lines": display.category_lines(hall, timezone.now()),
        "appointment_url": _appointment_checkin_url(key),
    }
    return render(request, "hall/queue/kiosk.html", ctx, status=status)


def _appointment_checkin_url(key: str) -> str:
    """The kiosk's appointment check-in page (another part of issue 16 serves it)."""
    try:
        return reverse("hall:kiosk_appointment_checkin", kwargs={"key": key})
    except NoReverseMatch:
        return f"/hall/d/{key}/kiosk/checkin/"
