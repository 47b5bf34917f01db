"""The clocks of work orders (issue 15 §3–4), set-based: bulk reads, the rule in Python, bulk writes.

`clock_tick(now)` (the job `service.clock`, every 5 minutes) looks at the open deadlines (not met, order not closed
or merged):
- **warning**: once 80 % of the time from the order's `received_at` to the deadline's `due_at` has passed
  (`now − received_at ≥ 0.8 × (due_at − received_at)`) and it is not overdue yet, `warned_at` is set and the order
  gets one `warn` event per deadline (the job result lists the orders);
- **escalation**: once `due_at` has passed, `escalated_at` is set, the order's escalation level rises by one per
  overdue deadline, its priority to at least 紧急, it gets one `escalate` event per deadline by the system and an
  audit row, and the supervisors — active managers of the order's unit or, when it has none, of its nearest
  ancestor that has one — get an SMS (one per supervisor per run: the most overdue order, and how many more).
Each deadline is warned once and escalated once: a second run writes nothing.

`deadlines_recompute(years)` (the job `service.recompute_provisional`) recomputes the working-day deadlines that
are provisional or count a day of `years`, from each deadline's own amount, unit and start (never the current
policy) and the calendar as stored now; only the rows whose due time or provisional flag changes are written."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, models, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.calendar import WorkCalendar
from gridcare.core.choices import Channel
from gridcare.core.models import AuditEvent
from gridcare.core.validators import MOBILE_RE

from .choices import DeadlineName, DeadlineUnit, OrderType, Priority
from .deadlines import CHINA, Rule, due
from .lifecycle import TERMINAL
from .models import WorkOrder, WorkOrderDeadline, WorkOrderEvent

CHUNK = 2000
LISTED = 100  # order numbers listed in a job result


def warn_due(received_at: datetime, due_at: datetime, now: datetime) -> bool:
    """80 % of the time from receipt to the deadline has passed (exact: 5·elapsed ≥ 4·span)."""
    return (now - received_at) * 5 >= (due_at - received_at) * 4


def warn_instant(received_at: datetime, due_at: datetime) -> datetime:
    """When the warning falls due (for display)."""
    return received_at + (due_at - received_at) * 4 / 5


def _local(value: datetime) -> str:
    return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def _system_label() -> str:
    return _("系统")


@dataclass
class _Due:
    """An open deadline and what the clock needs of its order (one bulk read)."""

    id: int
    order_id: int
    name: str
    due_at: datetime
    number: str
    order_type: str
    status: str
    unit_id: int
    received_at: datetime
    level: int
    priority: int
    customer_id: int | None


FIELDS = (
    "id",
    "order_id",
    "name",
    "due_at",
    "order__number",
    "order__order_type",
    "order__status",
    "order__unit_id",
    "order__received_at",
    "order__escalation_level",
    "order__priority",
    "order__account__customer_id",
)


def _open(qs) -> list[_Due]:
    if connection.features.has_select_for_update_skip_locked:
        # Two clocks at once (a catch-up run beside the schedule): each deadline is taken by one of them.
        qs = qs.select_for_update(skip_locked=True, of=("self",))
    return [_Due(*row) for row in qs.order_by("due_at", "id").values_list(*FIELDS)]


def clock_tick(*, now: datetime | None = None) -> dict:
    """Warn and escalate (see the module docstring); returns what was done, for the job's result."""
    now = now or timezone.now()
    base = WorkOrderDeadline.objects.filter(met_at__isnull=True, escalated_at__isnull=True).exclude(
        order__status__in=list(TERMINAL)
    )
    with transaction.atomic():
        overdue = _open(base.filter(due_at__lt=now))
        candidates = _open(base.filter(warned_at__isnull=True, due_at__gte=now))
        warned = [d for d in candidates if warn_due(d.received_at, d.due_at, now)]
        if warned:
            _warn(warned, now)
        notices = {"notices": 0, "no_supervisor": []}
        if overdue:
            notices = _escalate(overdue, now)
        if warned or overdue:
            audit_record(
                actor=Actor(channel=Channel.JOB),
                action="service.clock",
                object_type="service.workorder",
                changes={"warned": len(warned), "escalated": len(overdue)},
            )
    return {
        "now": now.isoformat(),
        "warned": len(warned),
        "escalated": len(overdue),
        "warned_orders": sorted({d.number for d in warned})[:LISTED],
        "escalated_orders": sorted({d.number for d in overdue})[:LISTED],
        **notices,
    }


def _warn(rows: list[_Due], now: datetime) -> None:
    WorkOrderDeadline.objects.filter(pk__in=[d.id for d in rows]).update(warned_at=now)
    label = _system_label()
    WorkOrderEvent.objects.bulk_create(
        [
            WorkOrderEvent(
                order_id=d.order_id,
                action="warn",
                from_status=d.status,
                to_status=d.status,
                actor=None,
                actor_label=label,
                at=now,
                note=_("“%(name)s”时限将于 %(due)s 到期（已过 80%%）")
                % {"name": DeadlineName(d.name).label, "due": _local(d.due_at)},
                data={"deadline": d.name, "due_at": d.due_at.isoformat()},
            )
            for d in rows
        ],
        batch_size=CHUNK,
    )


def _escalate(rows: list[_Due], now: datetime) -> dict:
    by_order: dict[int, list[_Due]] = defaultdict(list)
    for d in rows:
        by_order[d.order_id].append(d)
    # Orders raised by n levels, grouped by n (one UPDATE per distinct n: nearly always just n = 1).
    by_step: dict[int, list[int]] = defaultdict(list)
    for order_id, ds in by_order.items():
        by_step[len(ds)].append(order_id)
    for step, ids in by_step.items():
        WorkOrder.objects.filter(pk__in=ids).update(
            escalation_level=F("escalation_level") + step,
            priority=Greatest(
                F("priority"), Value(int(Priority.HIGH)), output_field=models.PositiveSmallIntegerField()
            ),
        )
    WorkOrderDeadline.objects.filter(pk__in=[d.id for d in rows]).update(escalated_at=now)
    label = _system_label()
    events, audits = [], []
    actor = Actor(channel=Channel.JOB)
    for order_id, ds in by_order.items():
        first = ds[0]
        for i, d in enumerate(ds, start=1):
            events.append(
                WorkOrderEvent(
                    order_id=order_id,
                    action="escalate",
                    from_status=d.status,
                    to_status=d.status,
                    actor=None,
                    actor_label=label,
                    at=now,
                    note=_("“%(name)s”时限已于 %(due)s 超时，系统自动升级")
                    % {"name": DeadlineName(d.name).label, "due": _local(d.due_at)},
                    data={
                        "deadline": d.name,
                        "due_at": d.due_at.isoformat(),
                        "auto": True,
                        "level": d.level + i,
                    },
                )
            )
        audits.append(
            audit_record(
                actor=actor,
                action="workorder.escalate",
                object_type="service.workorder",
                object_id=order_id,
                customer_id=first.customer_id,
                unit_id=first.unit_id,
                changes={
                    "deadline": "、".join(f"{DeadlineName(d.name).label}（{_local(d.due_at)}）" for d in ds),
                    "escalation_level": [first.level, first.level + len(ds)],
                    **(
                        {"priority": [first.priority, int(Priority.HIGH)]}
                        if first.priority < Priority.HIGH
                        else {}
                    ),
                },
                save=False,
            )
        )
    WorkOrderEvent.objects.bulk_create(events, batch_size=CHUNK)
    AuditEvent.objects.bulk_create(audits, batch_size=CHUNK)
    return _notify_supervisors(by_order, now)


def supervisors_of_units(unit_ids) -> dict[int, list[tuple[int, str]]]:
    """unit id → [(user id, phone)] of its supervisors: the active managers of the unit or, when it has none, of
    its nearest ancestor that has some (three queries whatever the number of units)."""
    from gridcare.core.permissions import Role
    from gridcare.org.models import SupplyUnit, User

    paths = dict(SupplyUnit.objects.filter(pk__in=list(unit_ids)).values_list("id", "path"))
    prefixes: set[str] = set()
    for path in paths.values():
        parts = path.split(".")[:-1]  # "01.0101.010101." → ancestors "01.", "01.0101.", itself
        prefixes.update(".".join(parts[: i + 1]) + "." for i in range(len(parts)))
    unit_of_path = dict(SupplyUnit.objects.filter(path__in=prefixes).values_list("path", "id"))
    managers: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for unit_id, user_id, phone in (
        User.objects.filter(role=Role.MANAGER, is_active=True, unit_id__in=list(unit_of_path.values()))
        .order_by("id")
        .values_list("unit_id", "id", "phone")
    ):
        managers[unit_id].append((user_id, phone or ""))
    out: dict[int, list[tuple[int, str]]] = {}
    for unit_id, path in paths.items():
        parts = path.split(".")[:-1]
        for i in range(len(parts), 0, -1):  # the unit itself first, then up the tree
            found = managers.get(unit_of_path.get(".".join(parts[:i]) + ".", -1))
            if found:
                out[unit_id] = found
                break
        else:
            out[unit_id] = []
    return out


def _mobile(phone: str) -> str:
    phone = (phone or "").strip().replace(" ", "").replace("-", "").removeprefix("+86")
    return phone if MOBILE_RE.fullmatch(phone) else ""


def _notify_supervisors(by_order: dict[int, list[_Due]], now: datetime) -> dict:
    """One SMS per supervisor: the most overdue of their newly escalated orders, and how many more."""
    from gridcare.notify.choices import Kind
    from gridcare.notify.outbox import notices_are_muted, transactional_sms_enqueue
    from gridcare.org.models import SupplyUnit

    firsts = sorted((ds[0] for ds in by_order.values()), key=lambda d: (d.due_at, d.id))
    unit_ids = {d.unit_id for d in firsts}
    supervisors = supervisors_of_units(unit_ids)
    unit_names = dict(SupplyUnit.objects.filter(pk__in=list(unit_ids)).values_list("id", "name"))
    per_user: dict[int, tuple[str, list[_Due]]] = {}
    orphans = []
    for d in firsts:
        people = supervisors.get(d.unit_id) or []
        if not people:
            orphans.append(d.number)
        for user_id, phone in people:
            per_user.setdefault(user_id, (phone, []))[1].append(d)
    sent = without_phone = 0
    if not notices_are_muted():
        for user_id, (phone, ds) in sorted(per_user.items()):
            mobile = _mobile(phone)
            if not mobile:
                without_phone += 1
                continue
            d = ds[0]
            transactional_sms_enqueue(
                kind=Kind.WORKORDER_ESCALATED,
                phone=mobile,
                context={
                    "unit": unit_names.get(d.unit_id, ""),
                    "type": str(OrderType(d.order_type).label),
                    "number": d.number,
                    "deadline_name": str(DeadlineName(d.name).label),
                    "due_at": d.due_at,
                    "level": d.level + len(by_order[d.order_id]),
                    "more": len(ds) - 1,
                },
                # The first deadline escalates once, so the key names this run's notice to this person.
                dedupe_key=f"workorder:{d.order_id}:escalated:{d.id}:{user_id}",
                now=now,
            )
            sent += 1
    return {
        "notices": sent,
        "supervisors_without_phone": without_phone,
        "no_supervisor": sorted(orphans)[:LISTED],
    }


# ---------------------------------------------------------------- provisional deadlines


def _years_filter(years: list[int]) -> Q:
    cond = Q(provisional=True)
    for y in years:
        # A deadline counts the days after its start's date up to its due date: it touches year y when it
        # starts before y ends and falls due after y begins.
        start, end = datetime(y, 1, 1, tzinfo=CHINA), datetime(y + 1, 1, 1, tzinfo=CHINA)
        cond |= Q(starts_at__lt=end, due_at__gte=start)
    return cond


def deadlines_recompute(
    *, years: list[int], actor: Actor, on_chunk=None, now: datetime | None = None
) -> dict:
    """Recompute the working-day deadlines that are provisional or count a day of `years`; write the changed
    ones (keyset chunks of CHUNK rows: bulk read, compute, bulk_update) and one audit row."""
    calendar = WorkCalendar.from_db()
    qs = (
        WorkOrderDeadline.objects.filter(unit=DeadlineUnit.WORKING_DAYS)
        .filter(_years_filter(years))
        .order_by("id")
        .only(
            "id", "name", "amount", "unit", "starts_at", "due_at", "provisional", "warned_at", "escalated_at"
        )
    )
    now = now or timezone.now()
    examined = refreshed = now_final = 0
    last = 0
    with transaction.atomic():
        while True:
            chunk = list(qs.filter(id__gt=last)[:CHUNK])
            if not chunk:
                break
            last = chunk[-1].id
            changed = []
            for d in chunk:
                due_at, provisional = due(Rule(d.name, d.amount, d.unit), d.starts_at, calendar)
                if due_at != d.due_at or provisional != d.provisional:
                    if d.provisional and not provisional:
                        now_final += 1
                    if due_at > d.due_at:
                        # Moved later: a warning or an escalation given on the old time no longer holds; the
                        # clock gives them again when the new time warrants (the escalation level stays).
                        if d.escalated_at is not None and due_at > now:
                            d.escalated_at = None
                        if d.warned_at is not None and not warn_due(d.starts_at, due_at, now):
                            d.warned_at = None
                    d.due_at, d.provisional = due_at, provisional
                    changed.append(d)
            if changed:
                WorkOrderDeadline.objects.bulk_update(
                    changed, ["due_at", "provisional", "warned_at", "escalated_at"], batch_size=CHUNK
                )
            examined += len(chunk)
            refreshed += len(changed)
            if on_chunk is not None:
                on_chunk(examined)
        audit_record(
            actor=actor,
            action="calendar.recompute",
            object_type="core.calendaryear",
            object_id=",".join(str(y) for y in years),
            changes={
                "year": "、".join(str(y) for y in years),
                "refreshed": refreshed,
                "unchanged": examined - refreshed,
                "no_longer_provisional": now_final,
            },
        )
    return {
        "years": years,
        "examined": examined,
        "refreshed": refreshed,
        "no_longer_provisional": now_final,
    }
