"""用电检查 inspections (issue 17 §2): classes and intervals, periodic scheduling, performing the checklist (defects
that become pending credit events), the 限期整改通知书 and its deadline, and overdue rectifications that become a
`rectification_overdue` event by themselves.

Classes (the shortest interval of the classes a customer falls in applies; ties: hv, important, lv_business):
- high voltage (`hv`, policy.inspect_hv_months, default 12): any service point of an active account at 10kV, 35kV
  or 110kV;
- important (`important`, policy.inspect_important_months, 6): segment "important";
- low-voltage non-residential (`lv_business`, policy.inspect_lv_business_months, 36): every service point of its
  active accounts at 220V/380V (at least one).
A residential customer, and a customer without an active account, is not inspected periodically.

Scheduling (`inspections_schedule`, the daily job `credit.inspections_schedule`): every customer in a class without
a scheduled periodic inspection gets one, due its last done/refused inspection's performed_on + the interval
(calendar months, the day clamped to the month's end, as `rules.months_back`). A customer never inspected is spread
over the first interval so that a fresh system does not make everybody due today:
due = today + (customer_id mod D) days, D = the days from today to today + interval months. Scheduled periodic
inspections of customers no longer in any class are cancelled. Idempotent (the unique constraint
`credit_inspection_one_scheduled_periodic`); the class a customer is in when its inspection is made is recorded.
A done or refused inspection (periodic or special) counts as the last one: the next periodic one is made by the next
daily run. A scheduled periodic inspection keeps its due day when the customer's class changes meanwhile.

Inspections are not assigned ahead: the unit's inspectors see what is due (`inspections_mine`), and whoever performs
or records the refusal becomes the inspection's inspector (the API's `inspector=me`).

Writes check `credit.record` on the inspection's unit (the customer's unit subtree): 404 otherwise, as for missing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.choices import Channel
from gridcare.core.permissions import Perm
from gridcare.core.scoping import PermissionDenied, require_unit, restrict
from gridcare.core.validators import date_range_message
from gridcare.customers.choices import AccountStatus, CustomerClass, Segment, VoltageLevel
from gridcare.customers.models import Customer, ServicePoint

from . import checklist
from .choices import (
    EventCode,
    EventSource,
    EventStatus,
    InspectionClass,
    InspectionKind,
    InspectionStatus,
    ItemResult,
    NoticeStatus,
)
from .events import event_create
from .models import CreditEvent, CreditPolicy, Inspection, InspectionItem, RectificationNotice
from .policy import current_policy
from .rules import months_back

HV_LEVELS = frozenset({VoltageLevel.KV10, VoltageLevel.KV35, VoltageLevel.KV110})
LV_LEVELS = frozenset({VoltageLevel.V220, VoltageLevel.V380})
CHUNK = 5000
TEXT_MAX = 2000


# ---------------------------------------------------------------- classes and intervals (pure)


def months_forward(day: date, months: int) -> date:
    """`day` plus `months` calendar months, the day clamped to the target month's end (2026-08-31 + 6 = 2027-02-28)."""
    return months_back(day, -months)


def interval_months(policy: CreditPolicy) -> dict[str, int]:
    return {
        InspectionClass.HIGH_VOLTAGE: policy.inspect_hv_months,
        InspectionClass.IMPORTANT: policy.inspect_important_months,
        InspectionClass.LV_BUSINESS: policy.inspect_lv_business_months,
    }


def inspection_class_for(
    *, customer_class: str, segment: str, voltage_levels: Iterable[str], months: dict[str, int]
) -> tuple[str, int] | None:
    """(class, interval months) of a customer with an active account whose service points have `voltage_levels`;
    None when it is not inspected periodically (residential, or in no class)."""
    if customer_class == CustomerClass.RESIDENTIAL:
        return None
    levels = set(voltage_levels)
    classes = []
    if levels & HV_LEVELS:
        classes.append(InspectionClass.HIGH_VOLTAGE)
    if segment == Segment.IMPORTANT:
        classes.append(InspectionClass.IMPORTANT)
    if levels and levels <= LV_LEVELS:
        classes.append(InspectionClass.LV_BUSINESS)
    if not classes:
        return None
    best = min(classes, key=lambda c: months[c])  # min keeps the first of equals: hv, important, lv_business
    return str(best), months[best]


def first_due(*, customer_id: int, today: date, months: int) -> date:
    """A never-inspected customer's first due date, spread over the first interval: today + (id mod D) days."""
    span = (months_forward(today, months) - today).days
    return today + timedelta(days=customer_id % span) if span > 0 else today


def next_due(*, last_performed: date | None, customer_id: int, today: date, months: int) -> date:
    if last_performed is None:
        return first_due(customer_id=customer_id, today=today, months=months)
    return months_forward(last_performed, months)


# ---------------------------------------------------------------- scheduling (the daily job)


def customer_classes(policy: CreditPolicy | None = None) -> dict[int, tuple[str, int, int]]:
    """customer id → (class, interval months, unit id) of every customer inspected periodically. Two reads."""
    months = interval_months(policy or current_policy())
    levels: dict[int, set[str]] = defaultdict(set)
    sp = (
        ServicePoint.objects.filter(account__status=AccountStatus.ACTIVE)
        .values_list("account__customer_id", "voltage_level")
        .distinct()
    )
    for cid, level in sp.iterator(chunk_size=CHUNK):
        levels[cid].add(level)
    out: dict[int, tuple[str, int, int]] = {}
    customers = (
        Customer.objects.exclude(customer_class=CustomerClass.RESIDENTIAL)
        .filter(accounts__status=AccountStatus.ACTIVE)
        .values_list("id", "customer_class", "segment", "unit_id")
        .distinct()
    )
    for cid, cclass, segment, unit_id in customers.iterator(chunk_size=CHUNK):
        found = inspection_class_for(
            customer_class=cclass, segment=segment, voltage_levels=levels.get(cid, ()), months=months
        )
        if found is not None:
            out[cid] = (found[0], found[1], unit_id)
    return out


def inspections_schedule(*, today: date, now: datetime | None = None, actor: Actor | None = None) -> dict:
    """Give every customer in a class without a scheduled periodic inspection one (set-based, idempotent); cancel
    the scheduled periodic inspections of customers no longer in any class. One audit row when anything changed."""
    now = now or timezone.now()
    actor = actor or Actor(channel=Channel.JOB)
    classes = customer_classes()
    periodic = Inspection.objects.filter(kind=InspectionKind.PERIODIC, status=InspectionStatus.SCHEDULED)
    scheduled = dict(periodic.values_list("customer_id", "id"))
    last = dict(
        Inspection.objects.filter(
            status__in=[InspectionStatus.DONE, InspectionStatus.REFUSED], performed_on__isnull=False
        )
        .values("customer_id")
        .annotate(last=Max("performed_on"))
        .values_list("customer_id", "last")
    )
    rows = [
        Inspection(
            customer_id=cid,
            unit_id=unit_id,
            kind=InspectionKind.PERIODIC,
            inspection_class=cls,
            due_on=next_due(last_performed=last.get(cid), customer_id=cid, today=today, months=months),
            status=InspectionStatus.SCHEDULED,
            created_at=now,
            updated_at=now,
        )
        for cid, (cls, months, unit_id) in classes.items()
        if cid not in scheduled
    ]
    stale = [iid for cid, iid in scheduled.items() if cid not in classes]
    before = periodic.count()
    with transaction.atomic():
        for i in range(0, len(rows), CHUNK):
            # A concurrent run's row wins (the partial unique constraint): nothing doubles.
            Inspection.objects.bulk_create(rows[i : i + CHUNK], ignore_conflicts=True)
        cancelled = 0
        for i in range(0, len(stale), CHUNK):
            cancelled += Inspection.objects.filter(
                pk__in=stale[i : i + CHUNK], status=InspectionStatus.SCHEDULED
            ).update(status=InspectionStatus.CANCELLED, updated_at=now)
        created = periodic.count() - before + cancelled
        if created or cancelled:
            audit_record(
                actor=actor,
                action="credit.inspections_schedule",
                object_type="credit.inspection",
                object_id="",
                changes={"today": today.isoformat(), "scheduled": created, "cancelled": cancelled},
            )
    return {"today": today.isoformat(), "scheduled": created, "cancelled": cancelled}


# ---------------------------------------------------------------- selectors


def inspections_for(user) -> QuerySet[Inspection]:
    """Inspections the user may see (credit.view, the unit subtree)."""
    return restrict(
        Inspection.objects.select_related("customer", "unit", "inspector", "notice"), user, Perm.CREDIT_VIEW
    )


def inspection_for(user, inspection_id: int) -> Inspection | None:
    if not 0 < inspection_id < 2**62:
        return None
    return inspections_for(user).filter(pk=inspection_id).first()


def inspections_filter(
    qs: QuerySet[Inspection],
    *,
    user=None,
    status: str | None = None,
    due_before: date | None = None,
    due_after: date | None = None,
    mine: bool = False,
    customer_id: int | None = None,
) -> QuerySet[Inspection]:
    """`due_before` and `due_after` are inclusive; `mine`: inspections the user performed or is assigned to."""
    if status:
        qs = qs.filter(status=status)
    if due_before:
        qs = qs.filter(due_on__lte=due_before)
    if due_after:
        qs = qs.filter(due_on__gte=due_after)
    if mine and user is not None:
        qs = qs.filter(inspector_id=user.pk)
    if customer_id:
        qs = qs.filter(customer_id=customer_id)
    return qs


def inspections_mine(user, *, today: date) -> QuerySet[Inspection]:
    """The inspector's phone list: scheduled inspections of the user's units due today or before (overdue first),
    the ones assigned to the user included; credit.record required."""
    qs = restrict(Inspection.objects.select_related("customer", "unit"), user, Perm.CREDIT_RECORD)
    return qs.filter(status=InspectionStatus.SCHEDULED, due_on__lte=today).order_by("due_on", "id")


def notices_for(user) -> QuerySet[RectificationNotice]:
    return restrict(
        RectificationNotice.objects.select_related("customer", "inspection", "verified_by"),
        user,
        Perm.CREDIT_VIEW,
    )


def notice_for(user, notice_id: int) -> RectificationNotice | None:
    if not 0 < notice_id < 2**62:
        return None
    return notices_for(user).filter(pk=notice_id).first()


def item_rows(inspection: Inspection) -> list[dict]:
    """The checklist of an inspection: its stored items once performed, else the default list unanswered."""
    stored = {i.code: i for i in inspection.items.all()} if inspection.pk else {}
    rows = []
    for position, item in enumerate(checklist.DEFAULT_CHECKLIST):
        s = stored.pop(item.code, None)
        rows.append(
            {
                "code": item.code,
                "label": s.label if s else str(item.label),
                "hint": str(item.hint),
                "event_code": item.event_code,
                "result": s.result if s else "",
                "finding": s.finding if s else "",
                "position": s.position if s else position,
            }
        )
    for s in stored.values():  # items of a checklist the default list no longer has
        rows.append(
            {
                "code": s.code,
                "label": s.label,
                "hint": "",
                "event_code": None,
                "result": s.result,
                "finding": s.finding,
                "position": s.position,
            }
        )
    return rows


def has_defect(inspection: Inspection) -> bool:
    return inspection.items.filter(result=ItemResult.DEFECT).exists()


# ---------------------------------------------------------------- writes


def _check_day(value: date, field: str, *, today: date, not_future: bool = True) -> None:
    message = date_range_message(value)
    if message:
        raise ValidationError({field: [message]})
    if not_future and value > today:
        raise ValidationError({field: [_("日期不能晚于今天（%(d)s）") % {"d": today.isoformat()}]})


def _text(value: str | None, field: str, *, required: bool = False, limit: int = TEXT_MAX) -> str:
    text = (value or "").strip()
    if "\x00" in text:
        raise ValidationError({field: [_("不能包含空字符（NUL）")]})
    if len(text) > limit:
        raise ValidationError({field: [_("不能超过 %(n)s 个字符") % {"n": limit}]})
    if required and not text:
        raise ValidationError({field: [_("必填")]})
    return text


def _user_id(actor: Actor) -> int | None:
    user = actor.user
    return user.pk if user is not None and getattr(user, "is_authenticated", False) else None


def inspection_create(
    *, actor: Actor, customer_id: int, due_on: date, note: str = "", now: datetime | None = None
) -> Inspection:
    """A special inspection (专项检查) of any customer in the actor's units (credit.record); a missing or
    out-of-scope customer is PermissionDenied (404)."""
    now = now or timezone.now()
    customer = (
        Customer.objects.filter(pk=customer_id).only("id", "unit_id").first()
        if 0 < customer_id < 2**62
        else None
    )
    if customer is None:
        raise PermissionDenied  # missing and out of scope answer the same
    require_unit(actor, customer.unit_id, Perm.CREDIT_RECORD)
    _check_day(due_on, "due_on", today=timezone.localdate(now), not_future=False)
    note = _text(note, "note", limit=500)
    with transaction.atomic():
        inspection = Inspection.objects.create(
            customer_id=customer.pk,
            unit_id=customer.unit_id,
            kind=InspectionKind.SPECIAL,
            inspection_class="",
            due_on=due_on,
            status=InspectionStatus.SCHEDULED,
            summary=note,
            created_at=now,
            updated_at=now,
        )
        audit_record(
            actor=actor,
            action="credit.inspection_create",
            obj=inspection,
            customer_id=customer.pk,
            unit_id=customer.unit_id,
            changes={"kind": InspectionKind.SPECIAL, "due_on": due_on.isoformat()},
        )
    return inspection


@dataclass(frozen=True)
class ItemAnswer:
    code: str
    result: str
    finding: str = ""


def _clean_items(items: Sequence[ItemAnswer]) -> dict[str, ItemAnswer]:
    answers: dict[str, ItemAnswer] = {}
    for i, a in enumerate(items):
        if a.code not in checklist.BY_CODE:
            raise ValidationError({f"items.{i}.code": [_("未知的检查项：%(c)s") % {"c": a.code[:40]}]})
        if a.code in answers:
            raise ValidationError({f"items.{i}.code": [_("检查项重复：%(c)s") % {"c": a.code}]})
        if a.result not in ItemResult.values:
            raise ValidationError({f"items.{i}.result": [_("结果须为 ok、defect 或 na")]})
        finding = _text(a.finding, f"items.{i}.finding")
        if a.result == ItemResult.DEFECT and not finding:
            raise ValidationError({f"items.{i}.finding": [_("存在问题的检查项须填写发现的问题")]})
        answers[a.code] = ItemAnswer(a.code, a.result, finding)
    missing = [c for c in checklist.CODES if c not in answers]
    if missing:
        labels = "、".join(str(checklist.BY_CODE[c].label) for c in missing)
        raise ValidationError({"items": [_("以下检查项未填写结果：%(l)s") % {"l": labels}]})
    return answers


def _scheduled_for_write(actor: Actor, inspection: Inspection) -> Inspection:
    require_unit(actor, inspection.unit_id, Perm.CREDIT_RECORD)
    locked = Inspection.objects.select_for_update().get(pk=inspection.pk)
    if locked.status != InspectionStatus.SCHEDULED:
        raise ValidationError(
            {"status": [_("该检查已是“%(s)s”状态，不能再次登记") % {"s": locked.get_status_display()}]}
        )
    return locked


def inspection_perform(
    *,
    actor: Actor,
    inspection: Inspection,
    items: Sequence[ItemAnswer],
    summary: str,
    performed_on: date,
    unqualified_electricians: int | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> Inspection:
    """Record a done inspection: every checklist item answered; defects on mapped items become pending credit
    events (source inspection, the actor as inspector, dated performed_on). A theft finding is not recorded here."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    require_unit(actor, inspection.unit_id, Perm.CREDIT_RECORD)
    _check_day(performed_on, "performed_on", today=today)
    answers = _clean_items(items)
    summary = _text(summary, "summary")
    electrician_defect = answers[checklist.ELECTRICIAN].result == ItemResult.DEFECT
    if electrician_defect:
        if unqualified_electricians is None or not 1 <= unqualified_electricians <= 999:
            raise ValidationError(
                {
                    "unqualified_electricians": [
                        _("进网作业电工持证存在问题时，须填写不符合要求的人数（1–999）")
                    ]
                }
            )
    elif unqualified_electricians is not None:
        raise ValidationError({"unqualified_electricians": [_("仅在“进网作业电工持证”存在问题时填写人数")]})
    inspector_id = _user_id(actor)
    with transaction.atomic():
        locked = _scheduled_for_write(actor, inspection)
        InspectionItem.objects.bulk_create(
            InspectionItem(
                inspection=locked,
                code=item.code,
                label=str(item.label),
                result=answers[item.code].result,
                finding=answers[item.code].finding,
                position=position,
            )
            for position, item in enumerate(checklist.DEFAULT_CHECKLIST)
        )
        locked.status = InspectionStatus.DONE
        locked.performed_on = performed_on
        locked.summary = summary
        if inspector_id:
            locked.inspector_id = inspector_id
        locked.updated_at = now
        locked.save(update_fields=["status", "performed_on", "summary", "inspector", "updated_at"])
        customer_unit = Customer.objects.filter(pk=locked.customer_id).values_list("unit_id", flat=True).get()
        events = []
        for item in checklist.DEFAULT_CHECKLIST:
            if item.event_code is None or answers[item.code].result != ItemResult.DEFECT:
                continue
            events.append(
                event_create(
                    actor=actor,
                    customer_id=locked.customer_id,
                    unit_id=customer_unit,
                    code=item.event_code,
                    day=performed_on,
                    source=EventSource.INSPECTION,
                    status=EventStatus.PENDING,
                    count=unqualified_electricians if item.code == checklist.ELECTRICIAN else None,
                    description=answers[item.code].finding,
                    source_key=f"inspection:{locked.pk}:{item.event_code}",
                    inspection_id=locked.pk,
                    inspector_id=locked.inspector_id,
                    now=now,
                )
            )
        defects = [c for c, a in answers.items() if a.result == ItemResult.DEFECT]
        audit_record(
            actor=actor,
            action="credit.inspection_perform",
            obj=locked,
            customer_id=locked.customer_id,
            unit_id=locked.unit_id,
            changes={
                "performed_on": performed_on.isoformat(),
                "defects": defects,
                "events": [e.code for e in events],
                **({"unqualified_electricians": unqualified_electricians} if electrician_defect else {}),
            },
        )
    return locked


def inspection_refuse(
    *,
    actor: Actor,
    inspection: Inspection,
    performed_on: date,
    note: str = "",
    today: date | None = None,
    now: datetime | None = None,
) -> Inspection:
    """The customer refused the inspection: status refused and a pending `inspection_refused` event."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    require_unit(actor, inspection.unit_id, Perm.CREDIT_RECORD)
    _check_day(performed_on, "performed_on", today=today)
    note = _text(note, "note")
    inspector_id = _user_id(actor)
    with transaction.atomic():
        locked = _scheduled_for_write(actor, inspection)
        locked.status = InspectionStatus.REFUSED
        locked.performed_on = performed_on
        locked.summary = note
        if inspector_id:
            locked.inspector_id = inspector_id
        locked.updated_at = now
        locked.save(update_fields=["status", "performed_on", "summary", "inspector", "updated_at"])
        customer_unit = Customer.objects.filter(pk=locked.customer_id).values_list("unit_id", flat=True).get()
        event_create(
            actor=actor,
            customer_id=locked.customer_id,
            unit_id=customer_unit,
            code=EventCode.INSPECTION_REFUSED,
            day=performed_on,
            source=EventSource.INSPECTION,
            status=EventStatus.PENDING,
            description=note,
            source_key=f"inspection:{locked.pk}:{EventCode.INSPECTION_REFUSED}",
            inspection_id=locked.pk,
            inspector_id=locked.inspector_id,
            now=now,
        )
        audit_record(
            actor=actor,
            action="credit.inspection_refuse",
            obj=locked,
            customer_id=locked.customer_id,
            unit_id=locked.unit_id,
            changes={"performed_on": performed_on.isoformat()},
        )
    return locked


def default_requirements(inspection: Inspection) -> str:
    """The notice's default text: one line per defect item (label: finding)."""
    return "\n".join(
        f"{i + 1}. {item.label}：{item.finding}"
        for i, item in enumerate(inspection.items.filter(result=ItemResult.DEFECT).order_by("position", "id"))
    )


def default_deadline(inspection: Inspection, policy: CreditPolicy | None = None) -> date | None:
    if inspection.performed_on is None:
        return None
    return inspection.performed_on + timedelta(days=(policy or current_policy()).rectification_days)


def _next_number(day: date) -> str:
    prefix = f"ZG{day:%Y%m%d}"
    last = (
        RectificationNotice.objects.filter(number__startswith=prefix)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    seq = int(last[len(prefix) :]) + 1 if last and last[len(prefix) :].isdigit() else 1
    return f"{prefix}{seq:04d}"


def notice_issue(
    *,
    actor: Actor,
    inspection: Inspection,
    requirements: str = "",
    deadline: date | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> RectificationNotice:
    """Issue the inspection's one 限期整改通知书 (a done inspection with a defect). Number ZG + issue day +
    a 4-digit sequence; deadline by default performed_on + policy.rectification_days, never before performed_on."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    require_unit(actor, inspection.unit_id, Perm.CREDIT_RECORD)
    inspection = Inspection.objects.get(pk=inspection.pk)  # its state now, not the caller's copy
    if inspection.status != InspectionStatus.DONE or inspection.performed_on is None:
        raise ValidationError({"status": [_("只有已检查的检查记录才能下达整改通知书")]})
    if not has_defect(inspection):
        raise ValidationError({"items": [_("检查未发现问题，无需下达整改通知书")]})
    if RectificationNotice.objects.filter(inspection=inspection).exists():
        raise ValidationError({"inspection": [_("该检查已下达整改通知书")]})
    requirements = _text(requirements, "requirements") or default_requirements(inspection)
    if deadline is None:
        deadline = default_deadline(inspection)
    _check_day(deadline, "deadline", today=today, not_future=False)
    if deadline < inspection.performed_on:
        raise ValidationError(
            {
                "deadline": [
                    _("整改期限不能早于检查日期（%(d)s）") % {"d": inspection.performed_on.isoformat()}
                ]
            }
        )
    for _attempt in range(5):
        try:
            with transaction.atomic():
                Inspection.objects.select_for_update().filter(pk=inspection.pk).first()
                if RectificationNotice.objects.filter(inspection=inspection).exists():
                    raise ValidationError({"inspection": [_("该检查已下达整改通知书")]})
                notice = RectificationNotice.objects.create(
                    inspection=inspection,
                    customer_id=inspection.customer_id,
                    unit_id=inspection.unit_id,
                    number=_next_number(today),
                    requirements=requirements,
                    issued_on=today,
                    deadline=deadline,
                    status=NoticeStatus.OPEN,
                    created_at=now,
                )
                audit_record(
                    actor=actor,
                    action="credit.notice_issue",
                    obj=notice,
                    customer_id=notice.customer_id,
                    unit_id=notice.unit_id,
                    changes={"number": notice.number, "deadline": deadline.isoformat()},
                )
                return notice
        except IntegrityError:  # a concurrent notice took the number: take the next one
            continue
    raise ValidationError({"__all__": [_("通知书编号冲突，请重试")]})


def notice_done(
    *,
    actor: Actor,
    notice: RectificationNotice,
    done_on: date,
    today: date | None = None,
    now: datetime | None = None,
) -> RectificationNotice:
    """The rectification was verified done (open or overdue → done). An overdue one keeps its event; one done
    after its deadline that the daily job has not yet seen gets its `rectification_overdue` event now."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    require_unit(actor, notice.unit_id, Perm.CREDIT_RECORD)
    _check_day(done_on, "done_on", today=today)
    if notice.inspection.performed_on and done_on < notice.inspection.performed_on:
        raise ValidationError({"done_on": [_("整改完成日期不能早于检查日期")]})
    with transaction.atomic():
        locked = RectificationNotice.objects.select_for_update().get(pk=notice.pk)
        if locked.status == NoticeStatus.DONE:
            raise ValidationError({"status": [_("该通知书已整改完成")]})
        before = locked.status
        if (
            done_on > locked.deadline
            and not CreditEvent.objects.filter(source_key=f"rectification:{locked.pk}").exists()
        ):
            # Put right after its deadline, and recorded before the daily job saw it overdue: the event the job
            # would have made is made now, so a late rectification never escapes it.
            _overdue_event(locked, actor=Actor(channel=Channel.JOB), now=now)
        locked.status = NoticeStatus.DONE
        locked.done_on = done_on
        locked.verified_by_id = _user_id(actor)
        locked.save(update_fields=["status", "done_on", "verified_by"])
        audit_record(
            actor=actor,
            action="credit.notice_done",
            obj=locked,
            customer_id=locked.customer_id,
            unit_id=locked.unit_id,
            changes={"status": [before, NoticeStatus.DONE], "done_on": done_on.isoformat()},
        )
    return locked


# ---------------------------------------------------------------- overdue rectifications (the daily job)


def _overdue_event(n: RectificationNotice, *, actor: Actor, now: datetime) -> CreditEvent:
    """The `rectification_overdue` event of a notice not put right by its deadline (the caller knows none exists)."""
    return event_create(
        actor=actor,
        customer_id=n.customer_id,
        unit_id=n.customer.unit_id,
        code=EventCode.RECTIFICATION_OVERDUE,
        day=n.deadline + timedelta(days=1),
        source=EventSource.INSPECTION,
        status=EventStatus.ACTIVE,
        description=_("限期整改通知书 %(n)s 逾期未整改（期限 %(d)s）")
        % {"n": n.number, "d": n.deadline.isoformat()},
        source_key=f"rectification:{n.pk}",
        inspection_id=n.inspection_id,
        inspector_id=n.inspection.inspector_id,
        now=now,
    )


def rectifications_overdue(*, today: date, now: datetime | None = None) -> dict:
    """Open notices whose deadline < today → overdue, each with one `rectification_overdue` event, active at once
    (made by the system; it can still be contested), dated deadline + 1 day, source_key `rectification:<id>`.
    Idempotent: a notice leaves `open` in the same transaction that writes its event."""
    now = now or timezone.now()
    actor = Actor(channel=Channel.JOB)
    made = 0
    while True:
        with transaction.atomic():
            batch = list(
                RectificationNotice.objects.select_for_update(skip_locked=True)
                .filter(status=NoticeStatus.OPEN, deadline__lt=today)
                .select_related("inspection", "customer")
                .order_by("id")[:500]
            )
            if not batch:
                break
            keys = {f"rectification:{n.pk}" for n in batch}
            existing = set(
                CreditEvent.objects.filter(source_key__in=keys).values_list("source_key", flat=True)
            )
            for n in batch:
                RectificationNotice.objects.filter(pk=n.pk).update(status=NoticeStatus.OVERDUE)
                if f"rectification:{n.pk}" not in existing:
                    _overdue_event(n, actor=actor, now=now)
                    made += 1
                audit_record(
                    actor=actor,
                    action="credit.notice_overdue",
                    obj=n,
                    customer_id=n.customer_id,
                    unit_id=n.unit_id,
                    changes={
                        "status": [NoticeStatus.OPEN, NoticeStatus.OVERDUE],
                        "deadline": n.deadline.isoformat(),
                    },
                )
    return {"today": today.isoformat(), "events": made}


def overdue_q(today: date) -> Q:
    """Scheduled inspections past their due day."""
    return Q(status=InspectionStatus.SCHEDULED, due_on__lt=today)
