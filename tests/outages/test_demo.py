"""The demo outage history (`gridcare demo_outages`) on a small demo county (customers/demo.py, 300 customers):
five years of restored events, typhoon days that are Major Event Days for the pure reliability function, the
walk-through events, budgets ~70 % used this year, frequent outages, partial restorations; idempotent."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count

from gridcare.core.clock import demo_clock
from gridcare.customers import demo as customers_demo
from gridcare.customers.models import Account, Feeder
from gridcare.org.models import SupplyUnit
from gridcare.outages import reliability
from gridcare.outages.choices import OutageSource, OutageStatus
from gridcare.outages.demo import demo_outages, years_back
from gridcare.outages.freeze import china_day
from gridcare.outages.models import (
    AffectedAccount,
    Interruption,
    OutageArea,
    OutageEvent,
    OutageScope,
    PlannedBudget,
)


@pytest.fixture
def county(db):
    customers_demo.seed_demo(customers=300, seed=3, chunk_size=300, drop_indexes=False, fork=False)
    return Account.objects.count()


def _events(rows) -> list[reliability.Event]:
    return [
        reliability.Event(id=str(i.pk), start=i.start, end=i.end, customers=i.customers, cause=i.kind)
        for i in rows
    ]


@pytest.mark.parametrize("today", [date(2026, 12, 7), date(2028, 2, 29), date(2026, 12, 31)])
def test_five_years_of_history(county, today):
    counts = demo_outages(today=today, seed=42)
    _today, now = demo_clock(today)
    first = years_back(today, 5)
    assert first == (date(2023, 2, 28) if today == date(2028, 2, 29) else today.replace(year=today.year - 5))
    past = OutageEvent.objects.filter(source=OutageSource.DEMO).exclude(
        status__in=[OutageStatus.SUBMITTED, OutageStatus.PUBLISHED]
    )
    assert past.count() == counts["events"] > 0
    # Events in each of the five years back from today.
    for k in range(5):
        lo, hi = today - timedelta(days=365 * (k + 1)), today - timedelta(days=365 * k)
        assert Interruption.objects.filter(event__in=past, day__gte=lo, day__lt=hi).exists(), k
    assert not Interruption.objects.filter(event__in=past, day__lt=first).exists()
    # Every past event restored, its interruptions closed before now, its counts what was frozen.
    assert set(past.values_list("status", flat=True)) == {OutageStatus.RESTORED}
    groups = Interruption.objects.filter(event__in=past)
    assert not groups.filter(end__isnull=True).exists() and not groups.filter(end__gt=now).exists()
    per_event = defaultdict(int)
    for event_id, n in groups.values_list("event_id", "customers"):
        per_event[event_id] += n
    for e in past:
        assert e.customers == per_event[e.pk] == AffectedAccount.objects.filter(event=e).count()
        assert e.actual_end == max(groups.filter(event=e).values_list("end", flat=True))
        assert e.planned_end > e.planned_start
    for g in groups.filter(duration_s__gt=0)[:200]:
        assert g.duration_s == int((g.end - g.start).total_seconds())
    # The event's unit is the feeder's unit; numbers are TD + date + 5 digits.
    for s in OutageScope.objects.filter(event__in=past, feeder__isnull=False).select_related(
        "event", "feeder"
    )[:50]:
        assert s.event.unit_id == s.feeder.unit_id
    for number, start in past.values_list("number", "actual_start")[:50]:
        assert number.startswith(f"TD{china_day(start):%Y%m%d}")
        assert len(number) == 15
    # Planned outages published at least 168 h ahead and approved.
    for e in past.filter(kind="planned"):
        assert e.planned_start - e.published_at >= timedelta(hours=168) and e.approved_by_id is not None
    # Kinds: every one of the five; momentary trips; partial restorations.
    assert set(past.values_list("kind", flat=True)) == {
        "planned",
        "temporary",
        "fault",
        "external",
        "shortage",
    }
    assert groups.filter(duration_s__lte=300).exists()
    split_area = groups.values("area_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    uneven = any(
        len(set(OutageArea.objects.filter(event=e).values_list("actual_end", flat=True))) > 1
        for e in past.filter(areas__isnull=False).distinct()
        if e.areas.count() > 1
    )
    assert split_area or uneven

    # About 0.5 sustained interruptions per account-year without the typhoons: 5 years × 0.5 = 2.5 per account.
    sustained = groups.filter(duration_s__gt=300).exclude(event__cause_category="typhoon")
    per_account = sum(sustained.values_list("customers", flat=True)) / county
    assert 2.5 <= per_account <= 2.5 * 1.6

    # A typhoon day is a Major Event Day for the pure function fed with the demo's interruptions.
    typhoon_days = sorted(set(groups.filter(event__cause_category="typhoon").values_list("day", flat=True)))
    assert len(typhoon_days) == 2 and typhoon_days[0].year != typhoon_days[1].year
    assert all(d.month == 8 for d in typhoon_days)
    events = _events(groups)
    meds = [
        d
        for d in typhoon_days
        if d.isoformat()
        in reliability.compute(customers_served=county, start=d, end=d, events=events)["major_event_days"]
    ]
    assert meds

    # A frequent-outage account: 3 sustained interruptions within 61 days.
    days_of = defaultdict(list)
    for account_id, day in AffectedAccount.objects.filter(interruption__in=sustained).values_list(
        "account_id", "interruption__day"
    ):
        days_of[account_id].append(day)
    frequent = [
        a
        for a, ds in days_of.items()
        if any((sorted(ds)[i + 2] - sorted(ds)[i]).days <= 61 for i in range(len(ds) - 2))
    ]
    assert frequent

    # The walk-through events: submitted in 10 days (not frozen), published in 8 days (frozen, open).
    submitted = OutageEvent.objects.get(source=OutageSource.DEMO, status=OutageStatus.SUBMITTED)
    published = OutageEvent.objects.get(source=OutageSource.DEMO, status=OutageStatus.PUBLISHED)
    assert submitted.planned_start.astimezone(reliability.CHINA).date() == today + timedelta(days=10)
    assert published.planned_start.astimezone(reliability.CHINA).date() == today + timedelta(days=8)
    assert submitted.frozen_at is None and not AffectedAccount.objects.filter(event=submitted).exists()
    assert submitted.scopes.exists() and submitted.est_customer_hours > 0
    assert published.frozen_at is not None and published.actual_start is None
    assert published.customers == AffectedAccount.objects.filter(event=published).count() > 0
    assert not Interruption.objects.filter(event=published, end__isnull=False).exists()
    assert published.planned_start - published.published_at >= timedelta(hours=168)

    # Budgets per bureau and year; this year's ~70 % used (planned + temporary: restored → actual
    # customer-hours, the walk-through events by their estimate).
    bureaus = set(
        SupplyUnit.objects.filter(pk__in=Feeder.objects.values("unit__parent")).values_list("pk", flat=True)
    )
    years = set(range(first.year, today.year + 1))
    got = set(PlannedBudget.objects.values_list("unit_id", "year"))
    assert {(b, y) for b in bureaus for y in years} <= got
    used = defaultdict(Decimal)
    parent = dict(SupplyUnit.objects.values_list("pk", "parent_id"))
    for g in groups.filter(kind__in=["planned", "temporary"], day__year=today.year):
        used[parent[g.unit_id]] += Decimal(g.customers * g.duration_s) / 3600
    for e in (submitted, published):
        if e.planned_start.astimezone(reliability.CHINA).year == today.year:
            used[parent[e.unit_id]] += e.est_customer_hours
    for bureau, u in used.items():
        budget = PlannedBudget.objects.get(unit_id=bureau, year=today.year).customer_hours
        # budget = used / 0.7 rounded up to 10 customer-hours: used/budget in (0.7 × (1 − 10/budget), 0.7].
        assert Decimal("0.7") * (1 - 10 / budget) < u / budget <= Decimal("0.7") + Decimal("0.0001")


def test_a_second_run_writes_nothing_and_replace_rebuilds_the_same(county):
    out = StringIO()
    call_command("demo_outages", "--today", "2026-12-07", stdout=out)
    assert "demo outages:" in out.getvalue()
    # `make run` again: the walk-through outage someone submitted stays as it is
    pending = OutageEvent.objects.get(status="submitted")
    OutageEvent.objects.filter(pk=pending.pk).update(status="approved")
    again = StringIO()
    call_command("demo_outages", "--today", "2026-12-07", stdout=again)
    assert "nothing written" in again.getvalue()
    assert OutageEvent.objects.get(pk=pending.pk).status == "approved"
    call_command("demo_outages", "--today", "2026-12-07", "--replace", stdout=StringIO())
    snapshot = (
        sorted(OutageEvent.objects.values_list("number", "kind", "customers")),
        Interruption.objects.count(),
        AffectedAccount.objects.count(),
        sorted(PlannedBudget.objects.values_list("unit_id", "year", "customer_hours")),
    )
    call_command("demo_outages", "--today", "2026-12-07", "--replace", stdout=StringIO())
    again = (
        sorted(OutageEvent.objects.values_list("number", "kind", "customers")),
        Interruption.objects.count(),
        AffectedAccount.objects.count(),
        sorted(PlannedBudget.objects.values_list("unit_id", "year", "customer_hours")),
    )
    assert again == snapshot
    assert OutageScope.objects.filter(event__source=OutageSource.DEMO).count() == OutageScope.objects.count()


def test_demo_with_no_topology_writes_no_events(db):
    counts = demo_outages(today=date(2026, 12, 7))
    assert counts["events"] == 0 and OutageEvent.objects.count() == 0
