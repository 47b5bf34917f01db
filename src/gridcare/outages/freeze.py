"""Freezing an outage's scope: the affected accounts are derived from topology once and written down, so a later
topology change does not rewrite history (issue 14, "frozen on the event").

`affected_areas(feeder_ids, area_ids)` — the transformer areas a scope covers: every area of a chosen feeder, plus
the chosen areas (deduplicated).

`freeze(event, *, start, end=None, area_ends=None, as_of=None)` writes, inside the caller's transaction:
- one `OutageArea` per covered area (its feeder, unit, type and name as they are now);
- one `Interruption` per area: all its accounts in service on `as_of` (default the start's China date), starting
  at `start`, open (`end` None) unless `end` (or the area's own `area_ends[area_id]`) is given — an import of a
  finished outage;
- one `AffectedAccount` per account, pointing at its group.
and sets the event's `customers`, `mv_users`, `actual_start` (when `start` is the real start: `actual=True`),
`frozen_at`. Returns the number of accounts frozen. Set-based: a fixed number of queries per event whatever its size.

Counting (DL/T 836):
- low-voltage basis: each account is one customer (`Interruption.customers`);
- medium-voltage basis: the area's public distribution transformer counts one user when the area has at least one
  account that is not a dedicated-transformer (专变) customer, and each dedicated customer — an account with a
  service point at 10 kV or above — counts one more (`Interruption.mv_users`).

Partial restoration (services) splits a group: the restored accounts move to a new group with the same start and
their own end; their dedicated users move with them, and the public transformer moves with the group's last
public account."""

from collections import defaultdict
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils import timezone

from gridcare.customers.choices import Segment, VoltageLevel
from gridcare.customers.models import Account, ServicePoint, TransformerArea

from .models import AffectedAccount, Interruption, OutageArea, OutageEvent

CHINA = ZoneInfo("Asia/Shanghai")
MV_LEVELS = (VoltageLevel.KV10, VoltageLevel.KV35, VoltageLevel.KV110)


def china_day(at: datetime) -> date:
    """The China (+08:00) date an interruption that starts at `at` belongs to."""
    return at.astimezone(CHINA).date()


def affected_areas(feeder_ids, area_ids) -> list[TransformerArea]:
    """The transformer areas a scope covers, ordered by code."""
    q = Q(pk__in=list(area_ids or [])) | Q(feeder_id__in=list(feeder_ids or []))
    return list(TransformerArea.objects.filter(q).select_related("feeder").order_by("code"))


def accounts_in_service(area_ids, day: date):
    """Accounts of these areas in service on `day` (opened on or before it, not closed by it)."""
    return Account.objects.filter(premise__transformer_area_id__in=list(area_ids), opened_on__lte=day).filter(
        Q(closed_on__isnull=True) | Q(closed_on__gt=day)
    )


def freeze(
    event: OutageEvent,
    *,
    start: datetime,
    end: datetime | None = None,
    area_ends: dict[int, datetime] | None = None,
    as_of: date | None = None,
    actual: bool = True,
) -> int:
    """Write the event's frozen areas, interruption groups and affected accounts (see the module docstring)."""
    scopes = list(event.scopes.values_list("feeder_id", "transformer_area_id"))
    areas = affected_areas([f for f, _a in scopes if f], [a for _f, a in scopes if a])
    as_of = as_of or china_day(start)
    area_ends = area_ends or {}
    rows = list(
        accounts_in_service([a.pk for a in areas], as_of)
        .order_by("premise__transformer_area_id", "pk")
        .values_list("pk", "premise__transformer_area_id", "customer__segment")
    )
    dedicated = set(
        ServicePoint.objects.filter(
            account_id__in=[r[0] for r in rows], voltage_level__in=MV_LEVELS
        ).values_list("account_id", flat=True)
    )
    by_area: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for pk, area_id, segment in rows:
        by_area[area_id].append((pk, segment))
    day = china_day(start)
    frozen = [
        OutageArea(
            event=event,
            transformer_area=a,
            feeder_id=a.feeder_id,
            unit_id=a.unit_id,
            area_type=a.area_type,
            area_name=a.name,
            customers=len(by_area[a.pk]),
            dedicated=sum(1 for pk, _s in by_area[a.pk] if pk in dedicated),
            est_restoration=event.planned_end,
            actual_end=area_ends.get(a.pk, end),
        )
        for a in areas
    ]
    OutageArea.objects.bulk_create(frozen)
    groups = []
    for oa in frozen:
        accts = by_area[oa.transformer_area_id]
        public = 1 if any(pk not in dedicated for pk, _s in accts) else 0
        stop = area_ends.get(oa.transformer_area_id, end)
        groups.append(
            Interruption(
                event=event,
                area=oa,
                unit_id=oa.unit_id,
                area_type=oa.area_type,
                kind=event.kind,
                start=start,
                end=stop,
                day=day,
                duration_s=int((stop - start).total_seconds()) if stop else None,
                customers=len(accts),
                mv_users=public + oa.dedicated,
            )
        )
    Interruption.objects.bulk_create(groups)
    AffectedAccount.objects.bulk_create(
        [
            AffectedAccount(
                event=event,
                account_id=pk,
                interruption=g,
                dedicated=pk in dedicated,
                important=segment == Segment.IMPORTANT,
            )
            for g in groups
            for pk, segment in by_area[g.area.transformer_area_id]
        ],
        batch_size=2000,
    )
    event.customers = len(rows)
    event.mv_users = sum(g.mv_users for g in groups)
    event.frozen_at = timezone.now()
    fields = ["customers", "mv_users", "frozen_at"]
    if actual:
        event.actual_start = start
        fields.append("actual_start")
        ends = [g.end for g in groups]
        if ends and all(ends):
            event.actual_end = max(ends)
            fields.append("actual_end")
    event.save(update_fields=fields)
    return len(rows)
