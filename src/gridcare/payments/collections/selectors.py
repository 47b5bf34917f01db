"""Reads for collections (催费): the task list and an account's dunning timeline, scoped to the user's units.

Tasks are visible to staff who work them (COLLECTIONS_MANAGE) or approve them (DISCONNECT_APPROVE); an
account's dunning timeline to anyone who may view the customer (CUSTOMER_VIEW: the 95598 agent answers
"why was my power cut"). Missing and forbidden look the same (404).
"""

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import get_or_404, visible_unit_ids
from gridcare.customers.selectors import account_get
from gridcare.payments.choices import DisconnectCaseStatus as Case
from gridcare.payments.choices import DunningStage, TaskKind, TaskStatus
from gridcare.payments.ledger import statement as selectors
from gridcare.payments.models import OPEN_CASE, CollectionTask, DunningNotice

OPEN_TASK = [TaskStatus.AWAITING_APPROVAL, TaskStatus.OPEN]


def can_see_tasks(user) -> bool:
    return has_perm(user, Perm.COLLECTIONS_MANAGE) or has_perm(user, Perm.DISCONNECT_APPROVE)


def tasks_visible(*, user) -> QuerySet[CollectionTask]:
    if not can_see_tasks(user):
        return CollectionTask.objects.none()
    return CollectionTask.objects.filter(unit_id__in=visible_unit_ids(user)).select_related(
        "account__customer", "unit", "notice", "decided_by", "done_by"
    )


def task_list(
    *, user, kind: str = "", status: str = "", overdue: bool = False, now: datetime | None = None
) -> QuerySet[CollectionTask]:
    """Tasks of the user's units; `overdue`: still awaiting or open after their due time."""
    qs = tasks_visible(user=user)
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    if overdue:
        qs = qs.filter(status__in=OPEN_TASK, due_at__lt=now or timezone.now())
    return qs.order_by("due_at", "id")


def task_get(*, user, pk) -> CollectionTask:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    task = get_or_404(tasks_visible(user=user), pk=pk)
    return task


def is_overdue(task: CollectionTask, now: datetime | None = None) -> bool:
    return task.status in OPEN_TASK and task.due_at < (now or timezone.now())


def account_states(account_ids: list[int]) -> dict[int, DunningNotice]:
    """The open disconnection case of each account, if any (one query)."""
    return {
        n.account_id: n
        for n in DunningNotice.objects.filter(
            account_id__in=account_ids, stage=DunningStage.DISCONNECT, case_status__in=OPEN_CASE
        )
    }


@dataclass
class Timeline:
    account: object
    notices: list[DunningNotice]
    tasks: list[CollectionTask]
    statement: selectors.Statement
    case: DunningNotice | None

    @property
    def disconnected(self) -> bool:
        return self.case is not None and self.case.case_status in (Case.DISCONNECTED, Case.RECONNECTING)


def account_timeline(*, user, account_number: str, as_of: date | None = None, limit: int = 200) -> Timeline:
    """An account's notices and tasks (newest first) and its arrears as of a date; 404 if not visible."""
    account = account_get(user=user, account_number=str(account_number or "").strip())
    notices = list(
        DunningNotice.objects.filter(account=account)
        .select_related("receivable")
        .order_by("-notice_date", "-id")[:limit]
    )
    tasks = list(
        CollectionTask.objects.filter(account=account)
        .select_related("decided_by", "done_by")
        .order_by("-created_at", "-id")[:limit]
    )
    case = next(
        (n for n in notices if n.stage == DunningStage.DISCONNECT and n.case_status in OPEN_CASE), None
    )
    return Timeline(
        account=account,
        notices=notices,
        tasks=tasks,
        statement=selectors.statement(account, as_of or timezone.localdate()),
        case=case,
    )


def task_counts(*, user) -> dict[str, int]:
    """Open tasks by kind and the overdue ones, for the list page header (one query)."""
    now = timezone.now()
    return (
        tasks_visible(user=user)
        .filter(status__in=OPEN_TASK)
        .aggregate(
            awaiting=Count("id", filter=Q(status=TaskStatus.AWAITING_APPROVAL)),
            open_disconnect=Count("id", filter=Q(status=TaskStatus.OPEN, kind=TaskKind.DISCONNECT)),
            open_reconnect=Count("id", filter=Q(status=TaskStatus.OPEN, kind=TaskKind.RECONNECT)),
            overdue=Count("id", filter=Q(due_at__lt=now)),
        )
    )
