"""The portal's remote ticket (issue 16 §1, §4): a logged-in customer takes a ticket of a hall and category
(`/portal/hall/ticket/`, or from the hall's QR code `/portal/hall/ticket/?hall=<code>`), sees its live position
(places ahead and the estimated wait, refreshed by polling) and may cancel it. One live remote ticket per phone
(the service enforces it). The ticket must be checked in at the hall (kiosk or greeter) before it is served."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.views import customer_required
from gridcare.org.models import ServiceHall

from . import display, services
from .choices import OPEN_TICKET, TicketSource
from .forms_queue import PortalTicketForm
from .models import Category, Ticket
from .views_queue import add_form_errors


def my_tickets(user):
    return Ticket.objects.select_related("hall", "category").filter(
        portal_user=user, source=TicketSource.PORTAL
    )


def live_ticket(user) -> Ticket | None:
    return my_tickets(user).filter(status__in=OPEN_TICKET).order_by("-issued_at").first()


def _halls():
    return list(ServiceHall.objects.filter(hall_categories__isnull=False).distinct().order_by("code"))


def _status_context(ticket: Ticket) -> dict:
    return {"ticket": ticket, "position": display.ticket_position(ticket, timezone.now())}


@customer_required
@require_http_methods(["GET", "POST"])
def ticket(request):
    halls = _halls()
    cats = list(Category.objects.filter(active=True))
    live = live_ticket(request.user)
    chosen = (request.GET.get("hall") or "")[:24]
    initial = {"phone": services.mobile_of(request.user)}
    if chosen and any(h.code == chosen for h in halls):
        initial["hall"] = chosen
    form = PortalTicketForm(initial=initial, halls=halls, categories=cats)
    status = 200
    if request.method == "POST":
        form = PortalTicketForm(request.POST, halls=halls, categories=cats)
        if form.is_valid():
            d = form.cleaned_data
            hall = next(h for h in halls if h.code == d["hall"])
            try:
                services.ticket_issue(
                    hall=hall,
                    category=d["category"],
                    source=TicketSource.PORTAL,
                    actor=Actor.from_request(request, Channel.PORTAL),
                    phone=d["phone"],
                    portal_user=request.user,
                )
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                messages.success(request, _("取号成功，请在到号后按时到厅签到"))
                return redirect("portal_hall:ticket")
        status = 400
    ctx = {"form": form, "live": live, "chosen": initial.get("hall", "")}
    if live is not None:
        ctx.update(_status_context(live))
    recent = my_tickets(request.user).exclude(status__in=OPEN_TICKET).order_by("-issued_at")[:5]
    ctx["recent"] = list(recent)
    return render(request, "hall/queue/portal_ticket.html", ctx, status=status)


@customer_required
@require_GET
def ticket_status(request, ticket_id: int):
    t = my_tickets(request.user).filter(pk=ticket_id).first()
    if t is None:
        raise Http404
    return render(request, "hall/queue/portal_ticket_status.html", _status_context(t))


@customer_required
@require_POST
def ticket_cancel(request, ticket_id: int):
    t = my_tickets(request.user).filter(pk=ticket_id).first()
    if t is None:
        raise Http404
    try:
        services.ticket_cancel(ticket=t, actor=Actor.from_request(request, Channel.PORTAL))
        messages.success(request, _("已取消排队号 %(n)s") % {"n": t.number})
    except ValidationError as exc:
        for m in exc.messages:
            messages.error(request, m)
    return redirect("portal_hall:ticket")
