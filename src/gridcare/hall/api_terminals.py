"""Staff API of the terminal monitoring (issue 16 §7), scoped by the terminal's unit subtree.

- `GET /terminals/monitor?hall=&month=YYYY-MM`: every terminal's state, alerts, usage and availability
  (hall.manage or hall.report; another role 403).
- `GET /terminals/{terminal_id}/events`: the terminal's events, newest first, paginated (404 out of scope).
- `POST /maintenance-tasks/{task_id}/close` {note?}: close an open task (hall.manage; 404 out of scope, 422 when
  already closed).
"""

from datetime import date, datetime
from decimal import Decimal

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from gridcare.core.api import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    PageParams,
    Text,
    api_actor,
    paginate,
    require_perm,
)
from gridcare.core.permissions import Perm

from . import terminals_monitor as tm
from .models import TerminalEvent

router = Router(tags=["hall"])


class MonitorFilter(Schema):
    hall: int | None = Field(None, ge=1, le=2**62, description="营业厅 id")
    month: Text | None = Field(None, max_length=7, description="月份 YYYY-MM，默认本月")


class MonitorRowOut(Schema):
    id: int
    code: str
    name: str
    unit: str
    hall_id: int | None
    hall: str | None
    online: bool
    last_heartbeat_at: datetime | None
    cash_box_percent: int | None
    alerts: list[str]
    transactions_today: int
    transactions_month: int
    id_reads_today: int
    id_reads_month: int
    online_minutes_month: int
    opening_minutes_month: int | None
    availability_percent: Decimal | None
    open_tasks: int


class MaintenanceTaskOut(Schema):
    id: int
    terminal_id: int
    terminal: str
    fault: str
    status: str
    opened_at: datetime
    closed_at: datetime | None
    note: str


class MonitorOut(Schema):
    month: str
    terminals: list[MonitorRowOut]
    open_tasks: list[MaintenanceTaskOut]


def parse_month(raw: str | None, now: datetime) -> date:
    """The month asked for (YYYY-MM), else the running month; a bad one is a ValidationError on `month`."""
    from django.core.exceptions import ValidationError

    if not raw:
        return tm.china_day(now).replace(day=1)
    try:
        y, m = raw.split("-")
        if len(y) != 4 or len(m) != 2:
            raise ValueError
        if not 2000 <= int(y) <= 2100:
            raise ValueError
        return date(int(y), int(m), 1)
    except ValueError:
        raise ValidationError({"month": [_("月份格式为 YYYY-MM（2000–2100），如 2026-03")]}) from None


def _row(r: tm.MonitorRow) -> dict:
    t = r.terminal
    return {
        "id": t.pk,
        "code": t.code,
        "name": t.name,
        "unit": t.unit.name,
        "hall_id": t.hall_id,
        "hall": t.hall.name if t.hall else None,
        "online": r.online,
        "last_heartbeat_at": r.last_heartbeat_at,
        "cash_box_percent": r.cash_box_percent,
        "alerts": r.alerts,
        "transactions_today": r.transactions_today,
        "transactions_month": r.transactions_month,
        "id_reads_today": r.id_reads_today,
        "id_reads_month": r.id_reads_month,
        "online_minutes_month": r.online_minutes_month,
        "opening_minutes_month": r.opening_minutes_month,
        "availability_percent": r.availability,
        "open_tasks": r.open_tasks,
    }


def _task(t) -> dict:
    return {
        "id": t.pk,
        "terminal_id": t.terminal_id,
        "terminal": t.terminal.code,
        "fault": t.fault,
        "status": t.status,
        "opened_at": t.opened_at,
        "closed_at": t.closed_at,
        "note": t.note,
    }


@router.get("/terminals/monitor", response={200: MonitorOut, **LIST_ERRORS})
def terminals_monitor(request, filters: Query[MonitorFilter]):
    require_perm(request, Perm.HALL_MANAGE, Perm.HALL_REPORT)
    now = timezone.now()
    month = parse_month(filters.month, now)
    qs = tm.terminals_for(request.user)
    if filters.hall:
        qs = qs.filter(hall_id=filters.hall)
    rows = tm.monitor_rows(qs, now=now, month=month)
    tasks = tm.open_tasks_for(request.user, hall_id=filters.hall)[:200]
    return {
        "month": month.strftime("%Y-%m"),
        "terminals": [_row(r) for r in rows],
        "open_tasks": [_task(t) for t in tasks],
    }


class TerminalEventOut(Schema):
    id: int
    kind: str
    at: datetime
    detail: dict


class EventPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[TerminalEventOut]


@router.get("/terminals/{terminal_id}/events", response={200: EventPage, **READ_ERRORS})
def terminal_events(request, terminal_id: int, paging: Query[PageParams]):
    terminal = tm.terminal_for(request.user, terminal_id)
    if terminal is None:
        raise Http404
    qs = TerminalEvent.objects.filter(terminal=terminal).order_by("-at", "-id")
    return paginate(qs, paging, lambda e: {"id": e.pk, "kind": e.kind, "at": e.at, "detail": e.detail})


class TaskCloseIn(Schema):
    note: Text = Field("", max_length=500)


@router.post("/maintenance-tasks/{task_id}/close", response={200: MaintenanceTaskOut, **WRITE_ERRORS})
def maintenance_task_close(request, task_id: int, payload: TaskCloseIn):
    task = tm.task_for(request.user, task_id)
    if task is None:
        raise Http404
    task = tm.maintenance_task_close(actor=api_actor(request), task=task, note=payload.note)
    return _task(task)
