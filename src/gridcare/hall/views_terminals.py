"""Staff pages of the terminal monitoring (issue 16 §7): the monitor (state, alerts, usage, monthly availability,
open maintenance tasks) and a terminal's page (its events, tasks, and the hall it stands in).

hall.manage or hall.report read them, scoped by the terminal's unit subtree (anything else: 404); hall.manage
closes tasks and places a terminal in a hall. A refused write re-renders with the error (400) and writes nothing;
a good one redirects (post/redirect/get)."""

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from gridcare.core.audit import Actor
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.views import staff_required

from . import selectors
from . import terminals_monitor as tm
from .api_terminals import parse_month
from .choices import TaskStatus, TerminalFault
from .models import MaintenanceTask


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [m for msgs in exc.message_dict.values() for m in msgs]
    return list(exc.messages)


def _hall_id(raw) -> int | None:
    return int(raw) if raw and str(raw).isdigit() and len(str(raw)) < 18 else None


@staff_required(Perm.HALL_MANAGE, Perm.HALL_REPORT)
def monitor(request):
    now = timezone.now()
    errors: list[str] = []
    try:
        month = parse_month((request.GET.get("month") or "").strip()[:7], now)
    except ValidationError as exc:
        errors = _messages(exc)
        month = tm.china_day(now).replace(day=1)
    halls = list(selectors.halls_for(request.user, tm.monitor_perm(request.user)))
    hall_id = _hall_id(request.GET.get("hall"))
    qs = tm.terminals_for(request.user)
    if hall_id:
        qs = qs.filter(hall_id=hall_id)
    rows = tm.monitor_rows(qs, now=now, month=month)
    tasks = list(tm.open_tasks_for(request.user, hall_id=hall_id)[:200])
    return render(
        request,
        "hall/terminals/monitor.html",
        {
            "rows": rows,
            "tasks": tasks,
            "halls": halls,
            "hall_id": hall_id,
            "month": month,
            "now": now,
            "errors": errors,
            "fault_labels": dict(TerminalFault.choices),
            "may_manage": has_perm(request.user, Perm.HALL_MANAGE),
        },
        status=400 if errors else 200,
    )


def _detail(request, terminal, *, errors=(), status=200):
    now = timezone.now()
    row = tm.monitor_rows(tm.terminals_for(request.user).filter(pk=terminal.pk), now=now)[0]
    tasks = list(
        MaintenanceTask.objects.filter(terminal=terminal)
        .select_related("closed_by")
        .order_by("-opened_at", "-id")[:50]
    )
    may_manage = has_perm(request.user, Perm.HALL_MANAGE)
    return render(
        request,
        "hall/terminals/detail.html",
        {
            "t": terminal,
            "row": row,
            "events": tm.events_for(terminal),
            "tasks": tasks,
            "open_status": TaskStatus.OPEN,
            "halls": list(tm.halls_for_terminal(terminal)) if may_manage else [],
            "fault_labels": dict(TerminalFault.choices),
            "may_manage": may_manage,
            "errors": list(errors),
        },
        status=status,
    )


@staff_required(Perm.HALL_MANAGE, Perm.HALL_REPORT)
def detail(request, terminal_id: int):
    terminal = tm.terminal_for(request.user, terminal_id)
    if terminal is None:
        raise Http404
    return _detail(request, terminal)


@staff_required(Perm.HALL_MANAGE)
@require_POST
def hall_set(request, terminal_id: int):
    terminal = tm.terminal_for(request.user, terminal_id)
    if terminal is None:
        raise Http404
    try:
        tm.terminal_hall_set(
            actor=Actor.console(request), terminal=terminal, hall_id=request.POST.get("hall")
        )
    except ValidationError as exc:
        return _detail(request, terminal, errors=_messages(exc), status=400)
    return redirect("hall:terminal_detail", terminal_id=terminal.pk)


@staff_required(Perm.HALL_MANAGE)
@require_POST
def task_close(request, task_id: int):
    task = tm.task_for(request.user, task_id)
    if task is None:
        raise Http404
    try:
        tm.maintenance_task_close(actor=Actor.console(request), task=task, note=request.POST.get("note", ""))
    except ValidationError as exc:
        terminal = tm.terminal_for(request.user, task.terminal_id)
        return _detail(request, terminal, errors=_messages(exc), status=400)
    nxt = request.POST.get("next", "")
    if nxt == "detail":
        return redirect("hall:terminal_detail", terminal_id=task.terminal_id)
    return redirect(reverse("hall:terminals"))
