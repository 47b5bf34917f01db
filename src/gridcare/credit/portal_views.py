"""Portal page of customer credit (/portal/credit/, logged-in customers only: anonymous → the portal login, staff →
404): the current grade of each of the customer's customers (their `CreditStanding`, when rated), the events that
count against them or are contested, and a 申诉 form per event that may still be contested. A refused contest
re-renders the page with the message (400); another customer's event answers 404."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.scoping import PermissionDenied
from gridcare.core.views import customer_required

from . import selectors, services
from .choices import EventStatus


def _page(
    request, *, errors: dict[int, list[str]] | None = None, reasons: dict[int, str] | None = None, status=200
):
    events = list(selectors.portal_events(request.user)[:200])
    for e in events:
        e.may_contest = e.status == EventStatus.ACTIVE
        e.form_errors = (errors or {}).get(e.pk, [])
        e.form_reason = (reasons or {}).get(e.pk, "")
    return render(
        request,
        "credit/portal_index.html",
        {"events": events, "standings": selectors.portal_standings(request.user)},
        status=status,
    )


@customer_required
def index(request):
    return _page(request)


@customer_required
@require_POST
def contest(request, pk: int):
    event = selectors.portal_event_for(request.user, pk)
    reason = (request.POST.get("reason") or "")[:5000]
    try:
        services.contest_raise(actor=Actor.from_request(request, Channel.PORTAL), event=event, reason=reason)
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as exc:
        msgs = [m for ms in getattr(exc, "message_dict", {"__all__": exc.messages}).values() for m in ms]
        return _page(request, errors={event.pk: msgs}, reasons={event.pk: reason[:1000]}, status=400)
    messages.success(request, _("申诉已提交，处理结果将在本页显示。"))
    return redirect("portal_credit:index")
