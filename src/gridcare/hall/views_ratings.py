"""Pages of the evaluation devices and staff performance (issue 16 §6):

- `/hall/d/<key>/evaluate/` (`hall:evaluate`): the evaluation device bound to a counter, no user — its key opens
  it (404 for any other key). It offers the counter's last finished transaction for rating with four big buttons;
  不满意 asks for a reason (a common one or typed). The panel polls (htmx) for the next transaction.
- `/hall/performance/` (`hall:performance`) and `/hall/performance.xlsx` (`hall:performance_xlsx`): the staff
  performance report by clerk for a month, hall.report, scoped to the user's units.
- `/hall/follow-ups/` (`hall:follow_ups`) and `/hall/follow-ups/<pk>/close/` (`hall:follow_up_close`, POST): the
  不满意 ratings the hall manager follows up and closes, hall.manage, scoped.

Views parse input and call one service (`ratings.py`) or read (`performance.py`); a refusal re-renders with
its message (400) and writes nothing."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from gridcare.core.audit import Actor
from gridcare.core.permissions import Perm
from gridcare.core.scoping import PermissionDenied
from gridcare.core.views import staff_required

from . import devices, performance, ratings
from .choices import DeviceKind, FollowUpStatus, Score
from .opening import CHINA
from .selectors import halls_for

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
POLL_SECONDS = 4
FOLLOW_UPS_SHOWN = 200


def page_now():
    """The clock of these pages; tests replace it."""
    return timezone.now()


def _messages(exc: ValidationError) -> list[str]:
    detail = getattr(exc, "message_dict", None)
    if detail:
        return [m for ms in detail.values() for m in ms]
    return list(exc.messages)


# ---------------------------------------------------------------- the evaluation device


@require_http_methods(["GET", "POST"])
def evaluate(request, key: str):
    now = page_now()
    device = devices.device_for_key(key, DeviceKind.EVALUATOR, now=now)
    if device is None or device.counter_id is None:
        raise Http404
    ctx: dict[str, Any] = {
        "device": device,
        "counter": device.counter,
        "hall": device.hall,
        "poll": POLL_SECONDS,
        "url": reverse("hall:evaluate", args=[key]),
        "scores": [(v, lbl) for v, lbl in Score.choices],
        "common_reasons": [str(r) for r in ratings.COMMON_REASONS],
        "errors": [],
        "step": "choose",
    }
    status = 200
    if request.method == "POST":
        score = str(request.POST.get("score") or "")[:20]
        reason = str(request.POST.get("reason_other") or "").strip() or str(request.POST.get("reason") or "")
        ticket_id = str(request.POST.get("ticket") or "")[:20]
        first_tap = score == Score.DISSATISFIED and request.POST.get("step") != "reason"
        if first_tap and not reason.strip():
            # The customer tapped 不满意: ask why before anything is written.
            ticket = ratings.pending_ticket(device, now=now)
            if ticket is not None and str(ticket.pk) == ticket_id:
                ctx.update(step="reason", ticket=ticket)
                return render(request, "hall/ratings/evaluate.html", ctx)
        try:
            rating = ratings.rating_record(
                device=device, ticket_id=ticket_id, score=score, reason=reason, now=now
            )
        except ValidationError as exc:
            ctx["errors"] = _messages(exc)
            status = 400
            if score == Score.DISSATISFIED and "reason" in getattr(exc, "message_dict", {}):
                ticket = ratings.pending_ticket(device, now=now)
                if ticket is not None and str(ticket.pk) == ticket_id:
                    ctx.update(step="reason", ticket=ticket, reason_other=reason[:200])
                    return render(request, "hall/ratings/evaluate.html", ctx, status=status)
        else:
            return redirect(f"{ctx['url']}?thanks={rating.ticket.number}")
    thanks = str(request.GET.get("thanks") or "")[:8] if request.method == "GET" else ""
    if thanks:
        ctx.update(step="thanks", thanks=thanks)
    else:
        ctx["ticket"] = ratings.pending_ticket(device, now=now)
        ctx["step"] = "choose" if ctx["ticket"] is not None else "waiting"
    template = "hall/ratings/evaluate_panel.html" if request.htmx else "hall/ratings/evaluate.html"
    return render(request, template, ctx, status=status)


# ---------------------------------------------------------------- staff performance


def _today():
    return page_now().astimezone(CHINA).date()


@staff_required(Perm.HALL_REPORT)
def performance_page(request, fmt: str = "html"):
    month, errors = performance.parse_month(request.GET.get("month"), _today())
    hall_id, hall_errors = performance.parse_hall_id(request.GET.get("hall"))
    errors.update(hall_errors)
    msgs = [m for ms in errors.values() for m in ms]
    if msgs and fmt != "html":
        return HttpResponse("\n".join(msgs), status=400, content_type="text/plain; charset=utf-8")
    doc = performance.performance_report(user=request.user, month=month, hall_id=hall_id)
    if doc is None:
        raise Http404
    if fmt == "xlsx":
        resp = HttpResponse(performance.report_xlsx(doc), content_type=XLSX)
        resp["Content-Disposition"] = f'attachment; filename="{performance.filename(doc)}.xlsx"'
        return resp
    query = f"month={doc['month']}" + (f"&hall={hall_id}" if hall_id is not None else "")
    return render(
        request,
        "hall/ratings/performance.html",
        {
            "doc": doc,
            "halls": list(halls_for(request.user, Perm.HALL_REPORT)),
            "hall_id": hall_id,
            "month": doc["month"],
            "errors": msgs,
            "query": query,
        },
        status=400 if msgs else 200,
    )


# ---------------------------------------------------------------- follow-ups


def _follow_ups_context(request, *, errors: dict | None = None, notes: dict | None = None) -> dict:
    hall_id, _errs = performance.parse_hall_id(request.GET.get("hall"))
    status = request.GET.get("status") or FollowUpStatus.OPEN
    if status not in (*FollowUpStatus.values, "all"):
        status = FollowUpStatus.OPEN
    qs = performance.follow_ups_filter(
        performance.follow_ups_for(request.user), hall_id=hall_id, status=None if status == "all" else status
    )
    total = qs.count()
    items = list(qs[:FOLLOW_UPS_SHOWN])
    for item in items:
        item.form_errors = (errors or {}).get(item.pk, [])
        item.form_note = (notes or {}).get(item.pk, "")
    return {
        "items": items,
        "total": total,
        "shown": min(total, FOLLOW_UPS_SHOWN),
        "halls": list(halls_for(request.user, Perm.HALL_MANAGE)),
        "hall_id": hall_id,
        "status": status,
        "statuses": [*FollowUpStatus.choices, ("all", _("全部"))],
        "query": request.GET.urlencode(),
    }


@staff_required(Perm.HALL_MANAGE)
def follow_ups_page(request):
    return render(request, "hall/ratings/follow_ups.html", _follow_ups_context(request))


@require_POST
@staff_required(Perm.HALL_MANAGE)
def follow_up_close(request, pk: int):
    item = performance.follow_up_for(request.user, pk)
    if item is None:
        raise Http404
    note = str(request.POST.get("note") or "")
    try:
        ratings.follow_up_close(follow_up=item, note=note, actor=Actor.console(request), now=page_now())
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as exc:
        ctx = _follow_ups_context(request, errors={item.pk: _messages(exc)}, notes={item.pk: note[:500]})
        if all(i.pk != item.pk for i in ctx["items"]):
            item.form_errors, item.form_note = _messages(exc), note[:500]  # type: ignore[attr-defined]
            ctx["items"].insert(0, item)
        return render(request, "hall/ratings/follow_ups.html", ctx, status=400)
    messages.success(request, _("已处理号码 %(n)s 的不满意评价跟进") % {"n": item.rating.ticket.number})
    back = reverse("hall:follow_ups")
    query = request.GET.urlencode()
    return redirect(f"{back}?{query}" if query else back)
