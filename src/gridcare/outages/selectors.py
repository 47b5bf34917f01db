"""Reads of outage events (issue 14): lists and one event scoped by unit (missing and forbidden answer the same
404), an account's current and planned outages, the public outage page (no personal data), the planned-outage
budget of a unit and year, and the works that could be merged with an event (一停多用)."""

from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from gridcare.core.permissions import Perm
from gridcare.core.scoping import get_or_404, restrict
from gridcare.org.models import SupplyUnit

from .choices import PREARRANGED, OutageKind, OutageStatus
from .freeze import CHINA
from .models import AffectedAccount, Interruption, OutageArea, OutageEvent, OutageScope, PlannedBudget

CENT = Decimal("0.01")
MERGE_WINDOW = timedelta(days=30)
# Statuses that never count: nothing happens (cancelled, rejected) or nothing was asked yet (draft).
NOT_COUNTED = (OutageStatus.CANCELLED, OutageStatus.REJECTED, OutageStatus.DRAFT)
DEAD = (OutageStatus.CANCELLED, OutageStatus.REJECTED)
RECENT_RESTORED = timedelta(hours=24)


def _china_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=CHINA)


def subtree_ids(unit: SupplyUnit) -> list[int]:
    """The unit and every unit below it."""
    return list(SupplyUnit.objects.filter(path__startswith=unit.path).values_list("id", flat=True))


# ---------------------------------------------------------------- events


def outages_visible(user) -> QuerySet[OutageEvent]:
    return restrict(OutageEvent.objects.select_related("unit"), user, Perm.RELIABILITY_VIEW)


def outage_list(
    user,
    *,
    unit_id: int | None = None,
    kind: str | None = None,
    status: str | None = None,
    start: date | datetime | None = None,
    end: date | datetime | None = None,
) -> QuerySet[OutageEvent]:
    """Events of the user's units, newest planned start first. `unit_id` narrows to that unit's subtree;
    `start`/`end` (China dates, both inclusive, or datetimes) keep the events whose planned window touches them."""
    qs = outages_visible(user)
    if unit_id is not None:
        unit = SupplyUnit.objects.filter(pk=unit_id).only("path").first()
        qs = qs.filter(unit_id__in=subtree_ids(unit)) if unit else qs.none()
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    if start is not None:
        lo = start if isinstance(start, datetime) else _china_midnight(start)
        qs = qs.filter(planned_end__gt=lo)
    if end is not None:
        hi = end if isinstance(end, datetime) else _china_midnight(end + timedelta(days=1))
        qs = qs.filter(planned_start__lt=hi)
    return qs.order_by("-planned_start", "-id")


def outage_get(user, number: str) -> OutageEvent:
    return get_or_404(outages_visible(user), number=number)


# ---------------------------------------------------------------- an account's outages


def outages_for_account(account, *, now: datetime) -> list[dict[str, Any]]:
    """Current and planned outages of an account: published and in-progress events, and restored ones whose
    customer got power back within the last 24 hours; each with the account's area, its estimated restoration
    and the account's own end once restored."""
    rows = (
        AffectedAccount.objects.filter(account=account)
        .filter(
            Q(event__status__in=[OutageStatus.PUBLISHED, OutageStatus.IN_PROGRESS])
            | Q(event__status=OutageStatus.RESTORED, interruption__end__gte=now - RECENT_RESTORED)
        )
        .select_related("event", "interruption", "interruption__area")
        .order_by("event__planned_start", "event_id")
    )
    out = []
    for r in rows:
        ev, area = r.event, r.interruption.area
        out.append(
            {
                "number": ev.number,
                "kind": ev.kind,
                "kind_label": str(OutageKind(ev.kind).label),
                "status": ev.status,
                "status_label": str(OutageStatus(ev.status).label),
                "title": ev.title,
                "planned_start": ev.planned_start,
                "planned_end": ev.planned_end,
                "est_restoration": area.est_restoration,
                "actual_start": ev.actual_start,
                "restored_at": r.interruption.end,
                "area_name": area.area_name,
            }
        )
    return out


# ---------------------------------------------------------------- public page


def public_outages(*, area_query: str = "", day: date, now: datetime | None = None) -> list[dict[str, Any]]:
    """Published and in-progress outages whose planned window touches that China day (an outage still in
    progress past its estimated restoration also every day up to today), matching the query against an area's
    or feeder's name or code or the unit's name. Areas, times and reasons only: no customer, account or count
    of anyone's data."""
    lo, hi = _china_midnight(day), _china_midnight(day + timedelta(days=1))
    overrun = Q(event__status=OutageStatus.IN_PROGRESS) if lo <= (now or timezone.now()) else Q(pk__in=[])
    areas = (
        OutageArea.objects.filter(
            event__status__in=[OutageStatus.PUBLISHED, OutageStatus.IN_PROGRESS],
            event__planned_start__lt=hi,
        )
        .filter(Q(event__planned_end__gt=lo) | overrun)
        .select_related("event", "feeder", "unit", "transformer_area")
    )
    q = (area_query or "").strip()
    if q:
        areas = areas.filter(
            Q(area_name__icontains=q)
            | Q(transformer_area__code__iexact=q)
            | Q(feeder__name__icontains=q)
            | Q(feeder__code__iexact=q)
            | Q(unit__name__icontains=q)
        )
    events: dict[int, dict[str, Any]] = {}
    for a in areas.order_by("event__planned_start", "event_id", "area_name"):
        ev = a.event
        item = events.setdefault(
            ev.pk,
            {
                "number": ev.number,
                "kind": ev.kind,
                "kind_label": str(OutageKind(ev.kind).label),
                "status": ev.status,
                "status_label": str(OutageStatus(ev.status).label),
                "title": ev.title,
                "planned_start": ev.planned_start,
                "planned_end": ev.planned_end,
                "actual_start": ev.actual_start,
                "areas": [],
                "feeders": [],
            },
        )
        item["areas"].append(a.area_name)
        if a.feeder.name not in item["feeders"]:
            item["feeders"].append(a.feeder.name)
    return list(events.values())


# ---------------------------------------------------------------- budget


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    return _china_midnight(date(year, 1, 1)), _china_midnight(date(year + 1, 1, 1))


def budget_used(*, unit: SupplyUnit, year: int, exclude_event_id: int | None = None) -> Decimal:
    """Customer-hours used of a unit subtree's planned-outage budget in a China year: restored events count
    their actual Σ customers × duration, the others (submitted, approved, published, in progress) their
    estimate; drafts, rejected and cancelled events count nothing."""
    lo, hi = _year_bounds(year)
    events = OutageEvent.objects.filter(
        unit_id__in=subtree_ids(unit),
        kind__in=list(PREARRANGED),
        planned_start__gte=lo,
        planned_start__lt=hi,
    ).exclude(status__in=NOT_COUNTED)
    if exclude_event_id is not None:
        events = events.exclude(pk=exclude_event_id)
    estimates = Decimal("0")
    restored_ids = []
    for pk, status, est in events.values_list("pk", "status", "est_customer_hours"):
        if status == OutageStatus.RESTORED:
            restored_ids.append(pk)
        else:
            estimates += est
    seconds = sum(
        c * (d or 0)
        for c, d in Interruption.objects.filter(event_id__in=restored_ids).values_list(
            "customers", "duration_s"
        )
    )
    actual = (Decimal(seconds) / Decimal(3600)).quantize(CENT, ROUND_HALF_UP)
    return estimates + actual


def budget_status(*, unit: SupplyUnit, year: int, exclude_event_id: int | None = None) -> dict[str, Any]:
    """{budget, used, remaining} in customer-hours (Decimal); budget and remaining None without a budget row."""
    used = budget_used(unit=unit, year=year, exclude_event_id=exclude_event_id)
    row = PlannedBudget.objects.filter(unit=unit, year=year).first()
    budget = row.customer_hours if row else None
    return {
        "unit_id": unit.pk,
        "year": year,
        "budget": budget,
        "used": used,
        "remaining": budget - used if budget is not None else None,
    }


def budgets_applying(*, unit: SupplyUnit, year: int, exclude_event_id: int | None = None) -> list[dict]:
    """The budget status of the unit and of each unit above it that has a budget row for the year (a station's
    event spends its bureau's budget too), nearest first."""
    codes = [p for p in unit.path.split(".") if p]
    paths = [".".join(codes[: i + 1]) + "." for i in range(len(codes))]
    units = {
        u.path: u
        for u in SupplyUnit.objects.filter(
            path__in=paths, pk__in=PlannedBudget.objects.filter(year=year).values("unit_id")
        )
    }
    return [
        budget_status(unit=units[p], year=year, exclude_event_id=exclude_event_id)
        for p in reversed(paths)
        if p in units
    ]


# ---------------------------------------------------------------- merge candidates


def event_feeder_ids(event: OutageEvent) -> set[int]:
    """Feeders an event touches: its chosen feeders, the feeders of its chosen areas, and its frozen areas'."""
    ids: set[int] = set()
    for feeder_id, area_feeder_id in OutageScope.objects.filter(event=event).values_list(
        "feeder_id", "transformer_area__feeder_id"
    ):
        ids.add(feeder_id or area_feeder_id)
    ids.update(OutageArea.objects.filter(event=event).values_list("feeder_id", flat=True))
    ids.discard(None)
    return ids


def merge_candidates(event: OutageEvent) -> list[OutageEvent]:
    """Other planned/temporary works, not cancelled nor rejected, on any of the same feeders (a feeder scope or
    an area of that feeder) starting within 30 days either side (|Δ| ≤ 30 × 24 h): could they share one
    outage (一停多用)?"""
    feeders = event_feeder_ids(event)
    if not feeders:
        return []
    touching = OutageScope.objects.filter(
        Q(feeder_id__in=feeders) | Q(transformer_area__feeder_id__in=feeders)
    ).values("event_id")
    return list(
        OutageEvent.objects.filter(
            pk__in=touching,
            kind__in=list(PREARRANGED),
            planned_start__gte=event.planned_start - MERGE_WINDOW,
            planned_start__lte=event.planned_start + MERGE_WINDOW,
        )
        .exclude(status__in=DEAD)
        .exclude(pk=event.pk)
        .order_by("planned_start", "pk")
    )


def unit_visible_or_404(user, unit_id: int) -> SupplyUnit:
    """A unit in the user's subtree under reliability.view, else 404."""
    from gridcare.core.scoping import visible_unit_ids

    if unit_id not in visible_unit_ids(user):
        raise Http404
    return SupplyUnit.objects.get(pk=unit_id)
