"""Collections API (催费).

- `GET /collections/tasks?kind=&status=&overdue=`: tasks of the caller's units (COLLECTIONS_MANAGE or
  DISCONNECT_APPROVE; others 403).
- `POST /collections/tasks/{id}/approve`, `…/reject` `{reason}` (DISCONNECT_APPROVE of the task's unit),
  `…/done` `{done_at, note}` (COLLECTIONS_MANAGE of the task's unit). Another unit or role → 404.
- `POST /collections/runs` `{date}`: the daily run for the caller's units (COLLECTIONS_MANAGE; 403 otherwise);
  a future date is refused (422 on `date`).
- `GET /collections/accounts/{户号}/timeline`: notices, tasks and arrears (CUSTOMER_VIEW of the unit); the
  protection reason (medical information) only with CUSTOMER_VIEW_PII, else "".
- `PUT /accounts/{户号}/protection` `{protected, reason}`: 保护用户 (CUSTOMER_EDIT of the unit).
Writes accept an `Idempotency-Key` header.
"""

from datetime import date, datetime
from decimal import Decimal

from ninja import Field, Query, Router, Schema

from gridcare.core.api import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    PageParams,
    Text,
    api_actor,
    aware,
    paginate,
    require_object_perm,
    require_perm,
)
from gridcare.core.idempotency import idempotent
from gridcare.core.permissions import Perm
from gridcare.customers.selectors import account_get

from . import selectors as cs
from . import services as collections

router = Router(tags=["collections"])


class TaskOut(Schema):
    id: int
    kind: str
    status: str
    account_number: str
    unit_id: int
    arrears: Decimal
    requires_approval: bool
    approval_reason: str
    due_at: datetime
    overdue: bool
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reject_reason: str
    done_at: datetime | None
    note: str


class TaskPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[TaskOut]


class TaskFilter(Schema):
    kind: Text = Field("", description="disconnect / reconnect")
    status: Text = Field("", description="awaiting_approval / open / done / rejected / cancelled")
    overdue: bool = Field(False, description="仅看超时未完成的任务")


def _task_out(t) -> dict:
    return {
        "id": t.pk,
        "kind": t.kind,
        "status": t.status,
        "account_number": t.account.account_number,
        "unit_id": t.unit_id,
        "arrears": t.arrears,
        "requires_approval": t.requires_approval,
        "approval_reason": t.approval_reason,
        "due_at": t.due_at,
        "overdue": cs.is_overdue(t),
        "created_at": t.created_at,
        "decided_by": t.decided_by.username if t.decided_by else None,
        "decided_at": t.decided_at,
        "reject_reason": t.reject_reason,
        "done_at": t.done_at,
        "note": t.note,
    }


@router.get("/collections/tasks", response={200: TaskPage, **LIST_ERRORS})
def task_list(request, filters: Query[TaskFilter], paging: Query[PageParams]):
    """Disconnection and reconnection tasks of the caller's units, by due time."""
    if not cs.can_see_tasks(request.user):
        require_perm(request, Perm.COLLECTIONS_MANAGE)
    qs = cs.task_list(user=request.user, kind=filters.kind, status=filters.status, overdue=filters.overdue)
    return paginate(qs, paging, _task_out)


class RejectIn(Schema):
    reason: Text = Field(..., max_length=500)


class DoneIn(Schema):
    done_at: datetime | None = Field(None, description="执行时间（默认现在；无时区按北京时间）")
    note: Text = Field("", max_length=200)


def _task(request, task_id: int, perm: str):
    require_object_perm(request, perm)
    return cs.task_get(user=request.user, pk=task_id)


@router.post("/collections/tasks/{task_id}/approve", response={200: TaskOut, **WRITE_ERRORS})
@idempotent
def task_approve(request, task_id: int):
    """A manager approves the disconnection of an important customer or protected account."""
    task = _task(request, task_id, Perm.DISCONNECT_APPROVE)
    collections.collection_task_approve(actor=api_actor(request), task=task)
    return _task_out(cs.task_get(user=request.user, pk=task_id))


@router.post("/collections/tasks/{task_id}/reject", response={200: TaskOut, **WRITE_ERRORS})
@idempotent
def task_reject(request, task_id: int, payload: RejectIn):
    """A manager refuses the disconnection; the reason is required."""
    task = _task(request, task_id, Perm.DISCONNECT_APPROVE)
    collections.collection_task_reject(actor=api_actor(request), task=task, reason=payload.reason)
    return _task_out(cs.task_get(user=request.user, pk=task_id))


@router.post("/collections/tasks/{task_id}/done", response={200: TaskOut, **WRITE_ERRORS})
@idempotent
def task_done(request, task_id: int, payload: DoneIn):
    """Field staff record the disconnection or reconnection as done, with its time."""
    task = _task(request, task_id, Perm.COLLECTIONS_MANAGE)
    collections.collection_task_done(
        actor=api_actor(request), task=task, done_at=aware(payload.done_at), note=payload.note
    )
    return _task_out(cs.task_get(user=request.user, pk=task_id))


class CollectionsRunIn(Schema):
    date: date


class CollectionsRunOut(Schema):
    date: date
    reminders: int
    overdue_notices: int
    disconnect_notices: int
    disconnect_tasks: int
    awaiting_approval: int
    cancelled: int
    reconnect_tasks: int


@router.post("/collections/runs", response={200: CollectionsRunOut, **WRITE_ERRORS})
@idempotent
def run(request, payload: CollectionsRunIn):
    """Run the dunning day for the caller's units (a second run of the same day writes nothing)."""
    require_perm(request, Perm.COLLECTIONS_MANAGE)
    return {"date": payload.date, **collections.collections_run(today=payload.date, actor=api_actor(request))}


class NoticeOut(Schema):
    id: int
    stage: str
    notice_date: date
    period: str | None
    arrears: Decimal
    planned_disconnect_on: date | None
    case_status: str
    sent_at: datetime | None


class TimelineOut(Schema):
    account_number: str
    protected: bool
    protected_reason: str
    case_status: str | None
    disconnected: bool
    amount_due: Decimal
    principal_outstanding: Decimal
    late_fee: Decimal
    notices: list[NoticeOut]
    tasks: list[TaskOut]


@router.get("/collections/accounts/{account_number}/timeline", response={200: TimelineOut, **READ_ERRORS})
def timeline(request, account_number: str):
    """An account's dunning notices and tasks (newest first) and its arrears today."""
    require_object_perm(request, Perm.CUSTOMER_VIEW)
    tl = cs.account_timeline(user=request.user, account_number=account_number)
    for t in tl.tasks:
        t.account = tl.account
    return {
        "account_number": tl.account.account_number,
        "protected": tl.account.protected,
        "protected_reason": collections.protected_reason_shown(actor=api_actor(request), account=tl.account),
        "case_status": tl.case.case_status if tl.case else None,
        "disconnected": tl.disconnected,
        "amount_due": tl.statement.amount_due,
        "principal_outstanding": tl.statement.principal_outstanding,
        "late_fee": tl.statement.late_fee,
        "notices": [
            {
                "id": n.pk,
                "stage": n.stage,
                "notice_date": n.notice_date,
                "period": n.receivable.period if n.receivable else None,
                "arrears": n.arrears,
                "planned_disconnect_on": n.planned_disconnect_on,
                "case_status": n.case_status,
                "sent_at": n.sent_at,
            }
            for n in tl.notices
        ],
        "tasks": [_task_out(t) for t in tl.tasks],
    }


class ProtectionIn(Schema):
    protected: bool
    reason: Text = Field("", max_length=200, description="设为保护用户时必填，如：家中有医疗设备")


class ProtectionOut(Schema):
    account_number: str
    protected: bool
    protected_reason: str


@router.put("/accounts/{account_number}/protection", response={200: ProtectionOut, **WRITE_ERRORS})
@idempotent
def protection_set(request, account_number: str, payload: ProtectionIn):
    """Flag or unflag 保护用户 (never disconnected without a manager's approval)."""
    require_object_perm(request, Perm.CUSTOMER_EDIT)
    account = account_get(user=request.user, account_number=account_number)
    a = collections.account_protection_set(
        actor=api_actor(request), account=account, protected=payload.protected, reason=payload.reason
    )
    return {
        "account_number": a.account_number,
        "protected": a.protected,
        "protected_reason": a.protected_reason,
    }
