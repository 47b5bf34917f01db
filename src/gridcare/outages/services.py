"""Writes of outage events (issue 14). Each runs in one transaction, checks the actor's permission on the event's
unit (`core.scoping.require_unit`), refuses bad input with a ValidationError naming the field, and leaves its
audit row. Notices go through the outbox in the same transaction (`notify.outbox.notifications_enqueue_bulk`,
deduplicated, so a retried call writes none twice).

Life of an event:
- planned / temporary maintenance (预安排): draft → submitted → approved (budget check) → published (notice-time
  check; affected accounts frozen; one `outage` notice per account; important customers listed for one-by-one
  contact) → in_progress (`outage_start`, or the `outages.start_due` job at the planned start) → restored;
  rejected goes back to the planner, cancelled before the start tells everyone notified;
- fault / external / shortage: entered as they happen, in progress at once, frozen and notified.

A change of times or scope after publishing bumps `version`, freezes the scope again (nothing has started) and
tells every affected account (`outage_change`; accounts newly in scope get the `outage` notice, dropped ones
`outage_cancel`). Partial restoration splits an open interruption group (see `freeze`)."""

from collections import defaultdict
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.permissions import Perm
from gridcare.core.scoping import require_unit
from gridcare.customers.models import Account, Feeder, TransformerArea
from gridcare.notify.choices import Kind
from gridcare.notify.outbox import notifications_enqueue_bulk
from gridcare.org.models import SupplyUnit

from . import selectors
from .choices import PREARRANGED, CauseCategory, ContactMethod, OutageKind, OutageStatus
from .freeze import accounts_in_service, affected_areas, china_day, freeze
from .models import (
    AffectedAccount,
    ImportantContact,
    Interruption,
    OutageArea,
    OutageEvent,
    OutageScope,
    PlannedBudget,
)

CENT = Decimal("0.01")
DEFAULT_NOTICE_HOURS = {"planned": 168, "temporary": 24}
AREA_NAMES_SHOWN = 5  # a notice names at most this many areas, then "等N个台区"
EDITABLE = ("title", "planned_start", "planned_end", "scope", "work_content", "cause_category")


def notice_hours(kind: str) -> int | None:
    table = getattr(settings, "GRIDCARE", {}).get("OUTAGES", {}).get("NOTICE_HOURS") or DEFAULT_NOTICE_HOURS
    return table.get(kind)


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _check_status(event: OutageEvent, *allowed: str) -> None:
    if event.status not in allowed:
        raise ValidationError(
            {
                "status": [
                    _("停电事件 %(n)s 当前状态为“%(s)s”，不能执行此操作")
                    % {"n": event.number, "s": OutageStatus(event.status).label}
                ]
            }
        )


def _aware(value: Any, field: str, errs: dict[str, list[str]]) -> datetime | None:
    if not isinstance(value, datetime):
        errs.setdefault(field, []).append(_("应为日期时间"))
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _hours(start: datetime, end: datetime) -> Decimal:
    return Decimal(int((end - start).total_seconds())) / Decimal(3600)


def _est(customers: int, start: datetime, end: datetime) -> Decimal:
    return (customers * _hours(start, end)).quantize(CENT, ROUND_HALF_UP)


# ---------------------------------------------------------------- scope


def _resolve_scope(scope: Any, errs: dict[str, list[str]]) -> tuple[list[Feeder], list[TransformerArea]]:
    """Feeders and areas named by the scope items, in order; unknown codes are named in the `scope` error."""
    feeders: list[Feeder] = []
    areas: list[TransformerArea] = []
    if not isinstance(scope, list | tuple) or not scope:
        errs.setdefault("scope", []).append(_("请至少选择一条线路或一个台区"))
        return feeders, areas
    for item in scope:
        level, code = item if isinstance(item, list | tuple) and len(item) == 2 else (None, None)
        code = str(code or "").strip()
        if level == "feeder":
            row = Feeder.objects.select_related("unit").filter(code=code).first()
            if row is None:
                errs.setdefault("scope", []).append(_("未知的线路编号：%(c)s") % {"c": code[:40]})
            elif row not in feeders:
                feeders.append(row)
        elif level == "area":
            row = TransformerArea.objects.select_related("unit", "feeder").filter(code=code).first()
            if row is None:
                errs.setdefault("scope", []).append(_("未知的台区编号：%(c)s") % {"c": code[:40]})
            elif row not in areas:
                areas.append(row)
        else:
            errs.setdefault("scope", []).append(
                _("停电范围应为 (feeder, 线路编号) 或 (area, 台区编号)：%(i)s") % {"i": str(item)[:40]}
            )
    return feeders, areas


def _scope_unit(scope: list, feeders: list[Feeder], areas: list[TransformerArea]) -> SupplyUnit:
    level, code = scope[0]
    code = str(code).strip()
    if level == "feeder":
        return next(f.unit for f in feeders if f.code == code)
    return next(a.unit for a in areas if a.code == code)


def _scope_area_ids(event: OutageEvent) -> set[int]:
    scopes = list(OutageScope.objects.filter(event=event).values_list("feeder_id", "transformer_area_id"))
    return {a.pk for a in affected_areas([f for f, _a in scopes if f], [a for _f, a in scopes if a])}


def _area_ids_of_event(event: OutageEvent) -> set[int]:
    frozen = set(OutageArea.objects.filter(event=event).values_list("transformer_area_id", flat=True))
    return frozen or _scope_area_ids(event)


def _check_duplicate(
    *, kind: str, area_ids: set[int], start: datetime, end: datetime, exclude_id: int | None = None
) -> None:
    """Same kind, overlapping areas and overlapping [start, end) as a live event → 422 `scope`. A fault during
    a planned outage on the same area is another kind: not a duplicate."""
    others = (
        OutageEvent.objects.filter(kind=kind, planned_start__lt=end)
        .filter(Q(planned_end__gt=start) | Q(actual_end__gt=start))
        .exclude(status__in=[OutageStatus.CANCELLED, OutageStatus.REJECTED])
    )
    if exclude_id is not None:
        others = others.exclude(pk=exclude_id)
    for other in others:
        if _area_ids_of_event(other) & area_ids:
            raise ValidationError(
                {"scope": [_("与停电事件 %(n)s 重复：同一类型、停电范围与时间重叠") % {"n": other.number}]}
            )


def _scope_rows(event: OutageEvent, feeders: list[Feeder], areas: list[TransformerArea]) -> None:
    OutageScope.objects.bulk_create(
        [OutageScope(event=event, feeder=f) for f in feeders]
        + [OutageScope(event=event, transformer_area=a) for a in areas]
    )


def _next_number(now: datetime) -> str:
    prefix = f"TD{china_day(now):%Y%m%d}"
    last = (
        OutageEvent.objects.filter(number__startswith=prefix, number__regex=r"^TD\d{12}$")
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    seq = int(last[len(prefix) :]) + 1 if last else 1
    return f"{prefix}{seq:04d}"


# ---------------------------------------------------------------- notices


def _area_label(names: list[str]) -> str:
    names = sorted(set(names))
    if len(names) <= AREA_NAMES_SHOWN:
        return "、".join(names)
    return _("%(names)s等%(n)s个台区") % {"names": "、".join(names[:AREA_NAMES_SHOWN]), "n": len(names)}


def _affected_rows(event: OutageEvent, account_ids=None) -> list[tuple[int, int]]:
    """(account id, customer id) of the event's affected accounts (or of those given)."""
    qs = AffectedAccount.objects.filter(event=event)
    if account_ids is not None:
        qs = qs.filter(account_id__in=list(account_ids))
    return list(qs.order_by("account_id").values_list("account_id", "account__customer_id"))


def _enqueue(
    event: OutageEvent,
    kind: str,
    recipients: list[tuple[int, int]],
    key: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    area: str | None = None,
    now: datetime | None = None,
) -> int:
    if not recipients:
        return 0
    if area is None:
        area = _area_label(list(OutageArea.objects.filter(event=event).values_list("area_name", flat=True)))
    context = {"reason": event.title, "area": area, "start": start or event.planned_start}
    context["end"] = end or event.planned_end
    items = [
        {
            "kind": kind,
            "customer_id": customer_id,
            "account_id": account_id,
            "context": dict(context),
            "dedupe_key": key.format(event=event.pk, account=account_id, version=event.version),
        }
        for account_id, customer_id in recipients
    ]
    return notifications_enqueue_bulk(items, now=now)


def _important_contacts(event: OutageEvent) -> int:
    rows = AffectedAccount.objects.filter(event=event, important=True).values_list("account_id", flat=True)
    have = set(ImportantContact.objects.filter(event=event).values_list("account_id", flat=True))
    new = [ImportantContact(event=event, account_id=a) for a in rows if a not in have]
    ImportantContact.objects.bulk_create(new)
    return len(new)


def _derived_customers(area_ids: set[int], start: datetime) -> int:
    return accounts_in_service(area_ids, china_day(start)).count()


# ---------------------------------------------------------------- create and update


@transaction.atomic
def outage_create(
    *,
    actor: Actor,
    kind: str,
    cause_category: str,
    title: str,
    scope: list[tuple[str, str]],
    planned_start: datetime,
    planned_end: datetime,
    work_content: str = "",
    now: datetime | None = None,
) -> OutageEvent:
    """A new event: planned/temporary ones start as drafts; fault/external/shortage ones are entered as they
    happen — in progress at once, frozen from `planned_start` and every affected account notified."""
    now = _now(now)
    errs: dict[str, list[str]] = {}
    if kind not in OutageKind.values:
        errs["kind"] = [_("未知的停电类型：%(k)s") % {"k": str(kind)[:20]}]
    if cause_category not in CauseCategory.values:
        errs["cause_category"] = [_("未知的原因分类：%(c)s") % {"c": str(cause_category)[:20]}]
    title = (title or "").strip() if isinstance(title, str) else ""
    if not title or len(title) > 100:
        errs["title"] = [_("停电原因为1–100个字符")]
    if not isinstance(work_content, str) or len(work_content) > 2000:
        errs["work_content"] = [_("工作内容最多2000个字符")]
    start = _aware(planned_start, "planned_start", errs)
    end = _aware(planned_end, "planned_end", errs)
    if start and end and end <= start:
        errs.setdefault("planned_end", []).append(_("预计送电时间须晚于停电开始时间"))
    feeders, areas = _resolve_scope(scope, errs)
    if errs:
        raise ValidationError(errs)
    unit = _scope_unit(scope, feeders, areas)
    for u in {unit.pk} | {f.unit_id for f in feeders} | {a.unit_id for a in areas}:
        require_unit(actor, u, Perm.OUTAGE_DRAFT)
    area_ids = {a.pk for a in affected_areas([f.pk for f in feeders], [a.pk for a in areas])}
    _check_duplicate(kind=kind, area_ids=area_ids, start=start, end=end)
    entered = kind not in PREARRANGED
    values = {
        "unit": unit,
        "kind": kind,
        "cause_category": cause_category,
        "status": OutageStatus.IN_PROGRESS if entered else OutageStatus.DRAFT,
        "title": title,
        "work_content": work_content,
        "planned_start": start,
        "planned_end": end,
        "created_by": actor.user,
    }
    for attempt in range(5):
        try:
            with transaction.atomic():  # a savepoint: another create may take the same daily number first
                event = OutageEvent.objects.create(number=_next_number(now), **values)
            break
        except IntegrityError:
            if attempt == 4:
                raise
    _scope_rows(event, feeders, areas)
    if entered:
        freeze(event, start=start)
    else:
        event.customers = _derived_customers(area_ids, start)
    event.est_customer_hours = _est(event.customers, start, end)
    event.save(update_fields=["customers", "est_customer_hours"])
    notified = 0
    if entered:
        notified = _enqueue(
            event, Kind.OUTAGE, _affected_rows(event), "outage:{event}:{account}:v{version}", now=now
        )
    audit_record(
        actor=actor,
        action="outage.create",
        obj=event,
        unit_id=event.unit_id,
        changes={
            "number": event.number,
            "kind": kind,
            "status": event.status,
            "scope": [list(s) for s in scope],
            "planned_start": start.isoformat(),
            "planned_end": end.isoformat(),
            "customers": event.customers,
            "est_customer_hours": str(event.est_customer_hours),
            "notified": notified,
        },
    )
    return event


def _check_notice(event: OutageEvent, start: datetime, now: datetime) -> None:
    hours = notice_hours(event.kind)
    if hours is None:
        return
    left = start - now
    if left.total_seconds() < hours * 3600:
        label = _("计划停电") if event.kind == OutageKind.PLANNED else _("临时检修停电")
        # shown rounded down: 168 h − 1 s reads 167.9, never 168.0
        shown = (Decimal(int(left.total_seconds())) / 3600).quantize(Decimal("0.1"), ROUND_DOWN)
        raise ValidationError(
            {
                "planned_start": [
                    _("%(kind)s须提前 %(h)s 小时发布（距停电开始仅 %(left)s 小时）")
                    % {"kind": label, "h": hours, "left": shown}
                ]
            }
        )


@transaction.atomic
def outage_update(
    *, actor: Actor, event: OutageEvent, now: datetime | None = None, **fields: Any
) -> OutageEvent:
    """Edit a draft or rejected event (OUTAGE_DRAFT), or change a published one (OUTAGE_APPROVE): a change of
    times or scope then bumps `version`, freezes again and tells every affected account."""
    now = _now(now)
    event = OutageEvent.objects.select_for_update().get(pk=event.pk)
    unknown = sorted(set(fields) - set(EDITABLE))
    if unknown:
        raise ValidationError({unknown[0]: [_("该字段不能修改")]})
    published = event.status == OutageStatus.PUBLISHED
    require_unit(actor, event.unit_id, Perm.OUTAGE_APPROVE if published else Perm.OUTAGE_DRAFT)
    _check_status(event, OutageStatus.DRAFT, OutageStatus.REJECTED, OutageStatus.PUBLISHED)
    errs: dict[str, list[str]] = {}
    before = {
        "title": event.title,
        "planned_start": event.planned_start.isoformat(),
        "planned_end": event.planned_end.isoformat(),
        "work_content": event.work_content,
        "cause_category": event.cause_category,
        "scope": sorted(
            ("feeder", f) if f else ("area", a)
            for f, a in event.scopes.values_list("feeder__code", "transformer_area__code")
        ),
    }
    if "title" in fields:
        title = fields["title"].strip() if isinstance(fields["title"], str) else ""
        if not title or len(title) > 100:
            errs["title"] = [_("停电原因为1–100个字符")]
        event.title = title
    if "work_content" in fields:
        if not isinstance(fields["work_content"], str) or len(fields["work_content"]) > 2000:
            errs["work_content"] = [_("工作内容最多2000个字符")]
        else:
            event.work_content = fields["work_content"]
    if "cause_category" in fields:
        if fields["cause_category"] not in CauseCategory.values:
            errs["cause_category"] = [_("未知的原因分类：%(c)s") % {"c": str(fields["cause_category"])[:20]}]
        else:
            event.cause_category = fields["cause_category"]
    start, end = event.planned_start, event.planned_end
    if "planned_start" in fields:
        start = _aware(fields["planned_start"], "planned_start", errs) or start
    if "planned_end" in fields:
        end = _aware(fields["planned_end"], "planned_end", errs) or end
    if end <= start:
        errs.setdefault("planned_end", []).append(_("预计送电时间须晚于停电开始时间"))
    new_scope = None
    if "scope" in fields:
        feeders, areas = _resolve_scope(fields["scope"], errs)
        new_scope = (fields["scope"], feeders, areas)
    if errs:
        raise ValidationError(errs)
    if new_scope is not None:
        scope, feeders, areas = new_scope
        unit = _scope_unit(scope, feeders, areas)
        for u in {unit.pk} | {f.unit_id for f in feeders} | {a.unit_id for a in areas}:
            require_unit(actor, u, Perm.OUTAGE_APPROVE if published else Perm.OUTAGE_DRAFT)
        event.scopes.all().delete()
        _scope_rows(event, feeders, areas)
        event.unit = unit
    times_changed = (start, end) != (event.planned_start, event.planned_end)
    event.planned_start, event.planned_end = start, end
    area_ids = _scope_area_ids(event)
    if times_changed or new_scope is not None:
        _check_duplicate(kind=event.kind, area_ids=area_ids, start=start, end=end, exclude_id=event.pk)
    notices = {}
    if published and (times_changed or new_scope is not None):
        _check_notice(event, start, now)
        old = dict(_affected_rows(event))
        event.version += 1
        OutageArea.objects.filter(event=event).delete()  # cascades to its groups and affected accounts
        event.save()
        freeze(event, start=start, actual=False)
        new = dict(_affected_rows(event))
        ImportantContact.objects.filter(event=event).exclude(account_id__in=list(new)).delete()
        _important_contacts(event)
        kept = [(a, c) for a, c in new.items() if a in old]
        added = [(a, c) for a, c in new.items() if a not in old]
        dropped = [(a, c) for a, c in old.items() if a not in new]
        key = "{kind}:{{event}}:{{account}}:v{{version}}"
        notices = {
            "outage_change": _enqueue(
                event, Kind.OUTAGE_CHANGE, kept, key.format(kind="outage_change"), now=now
            ),
            "outage": _enqueue(event, Kind.OUTAGE, added, key.format(kind="outage"), now=now),
            "outage_cancel": _enqueue(
                event,
                Kind.OUTAGE_CANCEL,
                dropped,
                key.format(kind="outage_cancel"),
                start=datetime.fromisoformat(before["planned_start"]),
                end=datetime.fromisoformat(before["planned_end"]),
                now=now,
            ),
        }
    elif event.status != OutageStatus.PUBLISHED:
        event.customers = _derived_customers(area_ids, start)
    event.est_customer_hours = _est(event.customers, start, end)
    event.save()
    after = {
        "title": event.title,
        "planned_start": event.planned_start.isoformat(),
        "planned_end": event.planned_end.isoformat(),
        "work_content": event.work_content,
        "cause_category": event.cause_category,
        "scope": sorted(
            ("feeder", f) if f else ("area", a)
            for f, a in event.scopes.values_list("feeder__code", "transformer_area__code")
        ),
    }
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if notices:
        changes["version"] = event.version
        changes["notified"] = notices
    audit_record(
        actor=actor,
        action="outage.change" if published else "outage.update",
        obj=event,
        unit_id=event.unit_id,
        changes=changes,
    )
    return event


# ---------------------------------------------------------------- workflow


def _locked(event: OutageEvent) -> OutageEvent:
    return OutageEvent.objects.select_for_update().get(pk=event.pk)


@transaction.atomic
def outage_submit(*, actor: Actor, event: OutageEvent, now: datetime | None = None) -> OutageEvent:
    """A draft (or a rejected event, corrected) goes to the approver."""
    now = _now(now)
    event = _locked(event)
    require_unit(actor, event.unit_id, Perm.OUTAGE_DRAFT)
    _check_status(event, OutageStatus.DRAFT, OutageStatus.REJECTED)
    event.status = OutageStatus.SUBMITTED
    event.submitted_by = actor.user
    event.submitted_at = now
    event.save(update_fields=["status", "submitted_by", "submitted_at"])
    audit_record(actor=actor, action="outage.submit", obj=event, unit_id=event.unit_id, changes={})
    return event


def _china_year(at: datetime) -> int:
    return china_day(at).year


@transaction.atomic
def outage_approve(
    *,
    actor: Actor,
    event: OutageEvent,
    budget_override_reason: str = "",
    merge_note: str = "",
    now: datetime | None = None,
) -> OutageEvent:
    """The approver accepts a submitted event. When its estimate exceeds what remains of a planned-outage budget
    (the unit's, or an ancestor's), a reason for going over is required."""
    now = _now(now)
    event = _locked(event)
    require_unit(actor, event.unit_id, Perm.OUTAGE_APPROVE)
    _check_status(event, OutageStatus.SUBMITTED)
    reason = (budget_override_reason or "").strip() if isinstance(budget_override_reason, str) else ""
    note = (merge_note or "").strip() if isinstance(merge_note, str) else ""
    budgets = selectors.budgets_applying(
        unit=event.unit, year=_china_year(event.planned_start), exclude_event_id=event.pk
    )
    over = [b for b in budgets if event.est_customer_hours > b["remaining"]]
    if over and not reason:
        b = over[0]
        raise ValidationError(
            {
                "budget_override_reason": [
                    _(
                        "预计停电时户数 %(est)s 超出预安排停电指标剩余 %(rem)s（指标 %(budget)s，已用 %(used)s），"
                        "请填写超指标说明"
                    )
                    % {
                        "est": event.est_customer_hours,
                        "rem": b["remaining"],
                        "budget": b["budget"],
                        "used": b["used"],
                    }
                ]
            }
        )
    event.status = OutageStatus.APPROVED
    event.approved_by = actor.user
    event.approved_at = now
    event.budget_override_reason = reason if over else ""
    event.merge_note = note
    event.save(update_fields=["status", "approved_by", "approved_at", "budget_override_reason", "merge_note"])
    audit_record(
        actor=actor,
        action="outage.approve",
        obj=event,
        unit_id=event.unit_id,
        changes={
            "est_customer_hours": str(event.est_customer_hours),
            "budgets": [
                {"unit_id": b["unit_id"], "budget": str(b["budget"]), "used": str(b["used"])} for b in budgets
            ],
            "budget_override_reason": event.budget_override_reason,
            "merge_note": note,
            "merge_candidates": [e.number for e in selectors.merge_candidates(event)],
        },
    )
    return event


@transaction.atomic
def outage_reject(
    *, actor: Actor, event: OutageEvent, reason: str, now: datetime | None = None
) -> OutageEvent:
    """The approver sends a submitted (or approved, not yet published) event back with a reason."""
    event = _locked(event)
    require_unit(actor, event.unit_id, Perm.OUTAGE_APPROVE)
    _check_status(event, OutageStatus.SUBMITTED, OutageStatus.APPROVED)
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason or len(reason) > 500:
        raise ValidationError({"reason": [_("请填写退回原因（最多500个字符）")]})
    event.status = OutageStatus.REJECTED
    event.reject_reason = reason
    event.save(update_fields=["status", "reject_reason"])
    audit_record(
        actor=actor, action="outage.reject", obj=event, unit_id=event.unit_id, changes={"reason": reason}
    )
    return event


@transaction.atomic
def outage_publish(*, actor: Actor, event: OutageEvent, now: datetime | None = None) -> OutageEvent:
    """Publish an approved event: the notice time is checked (planned 168 h, temporary 24 h before the start,
    the boundary allowed), the affected accounts are frozen, every one gets an `outage` notice and each
    important customer is listed for one-by-one contact."""
    now = _now(now)
    event = _locked(event)
    require_unit(actor, event.unit_id, Perm.OUTAGE_APPROVE)
    _check_status(event, OutageStatus.APPROVED)
    _check_notice(event, event.planned_start, now)
    freeze(event, start=event.planned_start, actual=False)
    event.est_customer_hours = _est(event.customers, event.planned_start, event.planned_end)
    event.status = OutageStatus.PUBLISHED
    event.published_by = actor.user
    event.published_at = now
    event.save(update_fields=["status", "published_by", "published_at", "est_customer_hours"])
    notified = _enqueue(
        event, Kind.OUTAGE, _affected_rows(event), "outage:{event}:{account}:v{version}", now=now
    )
    contacts = _important_contacts(event)
    audit_record(
        actor=actor,
        action="outage.publish",
        obj=event,
        unit_id=event.unit_id,
        changes={"customers": event.customers, "notified": notified, "important_contacts": contacts},
    )
    return event


@transaction.atomic
def outage_start(
    *, actor: Actor, event: OutageEvent, at: datetime, now: datetime | None = None
) -> OutageEvent:
    """The work begins: a published event goes in progress; its interruptions start at `at` (not in the future)
    when that differs from the planned start."""
    now = _now(now)
    event = _locked(event)
    require_unit(actor, event.unit_id, Perm.OUTAGE_DRAFT)
    _check_status(event, OutageStatus.PUBLISHED)
    errs: dict[str, list[str]] = {}
    at = _aware(at, "at", errs)
    if errs:
        raise ValidationError(errs)
    if at >= event.planned_end:
        raise ValidationError({"at": [_("开始时间须早于预计送电时间")]})
    if at > now:
        raise ValidationError({"at": [_("开始时间不能晚于当前时间")]})
    if at != event.planned_start:
        Interruption.objects.filter(event=event).update(start=at, day=china_day(at))
    event.status = OutageStatus.IN_PROGRESS
    event.actual_start = at
    event.save(update_fields=["status", "actual_start"])
    audit_record(
        actor=actor, action="outage.start", obj=event, unit_id=event.unit_id, changes={"at": at.isoformat()}
    )
    return event


def outages_start_due(*, now: datetime | None = None) -> dict[str, int]:
    """Start every published event whose planned start has come (the `outages.start_due` job), each in its own
    transaction, as the system."""
    now = _now(now)
    started = 0
    for event in OutageEvent.objects.filter(status=OutageStatus.PUBLISHED, planned_start__lte=now).order_by(
        "planned_start", "pk"
    ):
        outage_start(actor=Actor(), event=event, at=event.planned_start, now=now)
        started += 1
    return {"started": started}


# ---------------------------------------------------------------- restoration


def _close(group: Interruption, at: datetime) -> None:
    group.end = at
    group.duration_s = int((at - group.start).total_seconds())
    group.save(update_fields=["end", "duration_s"])


@transaction.atomic
def outage_restore(
    *,
    actor: Actor,
    event: OutageEvent,
    at: datetime,
    area_codes: list[str] | None = None,
    account_numbers: list[str] | None = None,
    now: datetime | None = None,
) -> OutageEvent:
    """Power is back at `at`: for everything still out (neither list given), for the open groups of some areas,
    or for some accounts (they move from their open group to a new group with the same start and their own
    end: a dedicated account carries its MV user, the public transformer moves with the group's last public
    account). Areas end when none of their groups is open; the event is restored when nothing is."""
    now = _now(now)
    event = _locked(event)
    require_unit(actor, event.unit_id, Perm.OUTAGE_DRAFT)
    _check_status(event, OutageStatus.IN_PROGRESS)
    errs: dict[str, list[str]] = {}
    at = _aware(at, "at", errs)
    if errs:
        raise ValidationError(errs)
    start = event.actual_start or event.planned_start
    if at < start:
        raise ValidationError(
            {"at": [_("送电时间不能早于停电开始时间（%(s)s）") % {"s": timezone.localtime(start)}]}
        )
    if at > now:
        raise ValidationError({"at": [_("送电时间不能晚于当前时间")]})
    # an empty list is not "everything": a client that meant some accounts and sent none restores nobody
    if account_numbers is not None and not account_numbers:
        raise ValidationError({"accounts": [_("请至少指定一个户号，或不指定以恢复全部")]})
    if area_codes is not None and not area_codes:
        raise ValidationError({"areas": [_("请至少指定一个台区，或不指定以恢复全部")]})
    open_groups = Interruption.objects.filter(event=event, end__isnull=True).select_related("area")
    restored_accounts: list[int] = []
    touched: set[int] = set()
    if account_numbers:
        numbers = [str(n).strip() for n in account_numbers]
        rows = {
            r.account.account_number: r
            for r in AffectedAccount.objects.filter(
                event=event, account__account_number__in=numbers
            ).select_related("account", "interruption")
        }
        bad = []
        for n in numbers:
            r = rows.get(n)
            if r is None:
                bad.append(_("户号 %(n)s 不在本次停电范围内") % {"n": n[:20]})
            elif r.interruption.end is not None:
                bad.append(_("户号 %(n)s 已恢复送电") % {"n": n})
        if len(set(numbers)) != len(numbers):
            bad.append(_("户号重复"))
        if bad:
            raise ValidationError({"accounts": bad})
        by_group: dict[int, list[AffectedAccount]] = defaultdict(list)
        for r in rows.values():
            by_group[r.interruption_id].append(r)
        for group in Interruption.objects.filter(pk__in=list(by_group)).select_for_update():
            moving = by_group[group.pk]
            rest = AffectedAccount.objects.filter(interruption=group).exclude(pk__in=[r.pk for r in moving])
            touched.add(group.area_id)
            restored_accounts += [r.account_id for r in moving]
            if not rest.exists():
                _close(group, at)
                continue
            public_here = (
                group.mv_users - AffectedAccount.objects.filter(interruption=group, dedicated=True).count()
            )
            moving_dedicated = sum(1 for r in moving if r.dedicated)
            public_moves = (
                1
                if public_here > 0
                and any(not r.dedicated for r in moving)
                and not rest.filter(dedicated=False).exists()
                else 0
            )
            new = Interruption.objects.create(
                event=event,
                area_id=group.area_id,
                unit_id=group.unit_id,
                area_type=group.area_type,
                kind=group.kind,
                start=group.start,
                end=at,
                day=group.day,
                duration_s=int((at - group.start).total_seconds()),
                customers=len(moving),
                mv_users=moving_dedicated + public_moves,
            )
            AffectedAccount.objects.filter(pk__in=[r.pk for r in moving]).update(interruption=new)
            group.customers -= len(moving)
            group.mv_users -= new.mv_users
            group.save(update_fields=["customers", "mv_users"])
    if area_codes:
        codes = [str(c).strip() for c in area_codes]
        areas = {
            a.transformer_area.code: a
            for a in OutageArea.objects.filter(event=event, transformer_area__code__in=codes).select_related(
                "transformer_area"
            )
        }
        bad = [_("台区 %(c)s 不在本次停电范围内") % {"c": c[:40]} for c in codes if c not in areas]
        open_by_area = defaultdict(list)
        for g in open_groups:
            open_by_area[g.area_id].append(g)
        bad += [_("台区 %(c)s 已恢复送电") % {"c": c} for c, a in areas.items() if not open_by_area[a.pk]]
        if bad:
            raise ValidationError({"areas": bad})
        for a in areas.values():
            for g in open_by_area[a.pk]:
                restored_accounts += list(
                    AffectedAccount.objects.filter(interruption=g).values_list("account_id", flat=True)
                )
                _close(g, at)
            touched.add(a.pk)
    if not area_codes and not account_numbers:
        groups = list(open_groups)
        if not groups:
            raise ValidationError({"status": [_("已全部恢复送电")]})
        for g in groups:
            restored_accounts += list(
                AffectedAccount.objects.filter(interruption=g).values_list("account_id", flat=True)
            )
            _close(g, at)
            touched.add(g.area_id)
    for area in OutageArea.objects.filter(pk__in=touched):
        ends = list(Interruption.objects.filter(area=area).values_list("end", flat=True))
        if all(ends):
            area.actual_end = max(ends)
            area.save(update_fields=["actual_end"])
    ends = list(Interruption.objects.filter(event=event).values_list("end", flat=True))
    if all(ends):
        event.status = OutageStatus.RESTORED
        event.actual_end = max(ends) if ends else at
        event.save(update_fields=["status", "actual_end"])
    # one notice per restored account, naming its own area
    area_of = dict(
        AffectedAccount.objects.filter(event=event, account_id__in=restored_accounts).values_list(
            "account_id", "interruption__area__area_name"
        )
    )
    items = [
        {
            "kind": Kind.OUTAGE_RESTORED,
            "customer_id": customer_id,
            "account_id": account_id,
            "context": {"reason": event.title, "area": area_of[account_id], "end": at},
            "dedupe_key": f"outage_restored:{event.pk}:{account_id}",
        }
        for account_id, customer_id in _affected_rows(event, restored_accounts)
    ]
    notified = notifications_enqueue_bulk(items, now=now) if items else 0
    audit_record(
        actor=actor,
        action="outage.restore",
        obj=event,
        unit_id=event.unit_id,
        changes={
            "at": at.isoformat(),
            "areas": list(area_codes or []),
            "accounts": list(account_numbers or []),
            "restored": len(restored_accounts),
            "status": event.status,
            "notified": notified,
        },
    )
    return event


# ---------------------------------------------------------------- cancel, contacts, budget


@transaction.atomic
def outage_cancel(
    *, actor: Actor, event: OutageEvent, reason: str, now: datetime | None = None
) -> OutageEvent:
    """Cancel an event before it starts. A published one tells every affected account (`outage_cancel`) and
    drops its frozen rows: nothing happened."""
    now = _now(now)
    event = _locked(event)
    heavy = event.status in (OutageStatus.APPROVED, OutageStatus.PUBLISHED)
    require_unit(actor, event.unit_id, Perm.OUTAGE_APPROVE if heavy else Perm.OUTAGE_DRAFT)
    _check_status(
        event,
        OutageStatus.DRAFT,
        OutageStatus.SUBMITTED,
        OutageStatus.REJECTED,
        OutageStatus.APPROVED,
        OutageStatus.PUBLISHED,
    )
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason or len(reason) > 500:
        raise ValidationError({"reason": [_("请填写取消原因（最多500个字符）")]})
    notified = 0
    if event.status == OutageStatus.PUBLISHED:
        notified = _enqueue(
            event,
            Kind.OUTAGE_CANCEL,
            _affected_rows(event),
            "outage_cancel:{event}:{account}:v{version}",
            now=now,
        )
        ImportantContact.objects.filter(event=event).delete()
        OutageArea.objects.filter(event=event).delete()  # cascades to its groups and affected accounts
        event.frozen_at = None
    event.status = OutageStatus.CANCELLED
    event.cancel_reason = reason
    event.cancelled_at = now
    event.save(update_fields=["status", "cancel_reason", "cancelled_at", "frozen_at"])
    audit_record(
        actor=actor,
        action="outage.cancel",
        obj=event,
        unit_id=event.unit_id,
        changes={"reason": reason, "notified": notified},
    )
    return event


@transaction.atomic
def outage_contact_record(
    *,
    actor: Actor,
    event: OutageEvent,
    account_number: str,
    method: str,
    confirmed_by_name: str,
    note: str = "",
    at: datetime | None = None,
) -> ImportantContact:
    """Record that an important customer was told one by one (重要客户逐户告知), and who confirmed it."""
    require_unit(actor, event.unit_id, Perm.OUTAGE_DRAFT)
    errs: dict[str, list[str]] = {}
    contact = (
        ImportantContact.objects.select_for_update()
        .filter(event=event, account__account_number=str(account_number or "").strip())
        .first()
    )
    if contact is None:
        errs["account_number"] = [_("该户号不是本次停电需逐户告知的重要客户")]
    if method not in ContactMethod.values:
        errs["method"] = [_("告知方式应为 %(m)s") % {"m": " / ".join(ContactMethod.values)}]
    name = confirmed_by_name.strip() if isinstance(confirmed_by_name, str) else ""
    if not name or len(name) > 50:
        errs["confirmed_by_name"] = [_("请填写客户确认人（最多50个字符）")]
    if not isinstance(note, str) or len(note) > 500:
        errs["note"] = [_("备注最多500个字符")]
    at = _aware(at, "at", errs) if at is not None else timezone.now()
    if errs:
        raise ValidationError(errs)
    contact.method = method
    contact.contacted_by = actor.user
    contact.contacted_at = at
    contact.confirmed_by_name = name
    contact.note = note
    contact.save()
    audit_record(
        actor=actor,
        action="outage.contact",
        obj=event,
        unit_id=event.unit_id,
        customer_id=Account.objects.filter(pk=contact.account_id)
        .values_list("customer_id", flat=True)
        .first(),
        changes={"account_id": contact.account_id, "method": method, "at": at.isoformat()},
    )
    return contact


@transaction.atomic
def planned_budget_set(*, actor: Actor, unit: SupplyUnit, year: int, customer_hours: Any) -> PlannedBudget:
    """Set a unit's yearly planned-outage budget (预安排停电指标) in customer-hours."""
    require_unit(actor, unit.pk, Perm.OUTAGE_APPROVE)
    errs: dict[str, list[str]] = {}
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        errs["year"] = [_("年份应在2000–2100之间")]
    try:
        value = Decimal(str(customer_hours))
        if not value.is_finite() or value < 0 or value >= Decimal("1e12"):
            raise InvalidOperation
        value = value.quantize(CENT, ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        errs["customer_hours"] = [_("时户数应为不小于 0 的数值")]
    if errs:
        raise ValidationError(errs)
    row = PlannedBudget.objects.filter(unit=unit, year=year).select_for_update().first()
    before = row.customer_hours if row else None
    if row is None:
        row = PlannedBudget.objects.create(unit=unit, year=year, customer_hours=value)
    else:
        row.customer_hours = value
        row.save(update_fields=["customer_hours", "updated_at"])
    audit_record(
        actor=actor,
        action="planned.budget",
        obj=row,
        unit_id=unit.pk,
        changes={"year": year, "customer_hours": [str(before) if before is not None else None, str(value)]},
    )
    return row
