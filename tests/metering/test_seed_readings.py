"""`gridcare seed_readings`: routes for active accounts, monthly AMI reads, idempotence and determinism."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command

from gridcare.core.models import AuditEvent
from gridcare.customers.choices import AccountStatus, CustomerClass
from gridcare.customers.models import Account, Meter
from gridcare.metering import demo
from gridcare.metering.choices import ReadSource, ReadStatus
from gridcare.metering.models import MeterRead, Route, RouteMembership
from tests.factories import CustomerFactory, make_account

pytestmark = pytest.mark.django_db(transaction=False)

TOU = ("sharp", "peak", "flat", "valley")


@pytest.fixture
def county(world):
    """The world plus a few accounts of every class, TOU meters, a large-industry meter with a 倍率,
    a meter about to roll over, and a closed account."""
    extra = [
        ("3100000002", CustomerClass.RESIDENTIAL, True),
        ("3100000003", CustomerClass.COMMERCIAL, True),
        ("3100000004", CustomerClass.LARGE_INDUSTRY, True),
        ("3200000002", CustomerClass.AGRICULTURAL, False),
        ("3200000003", CustomerClass.RESIDENTIAL, False),
    ]
    for number, cls, tou in extra:
        area = world.area_a if number.startswith("31") else world.area_b
        cust = CustomerFactory(unit=area.unit, customer_class=cls)
        make_account(cust, number, area, tou=tou)
    Meter.objects.filter(asset_number="M3100000004").update(digits=8, multiplier=50)
    closed = make_account(CustomerFactory(unit=world.station_a), "3100000009", world.area_a)
    Account.objects.filter(pk=closed.pk).update(status=AccountStatus.CLOSED, closed_on=date(2025, 1, 1))
    world.closed = closed
    return world


def run(**kw):
    call_command("seed_readings", months=3, end="2026-03", seed=7, **kw)


def snapshot():
    return list(
        MeterRead.objects.order_by("meter__asset_number", "read_at").values_list(
            "meter__asset_number", "read_at", "total", *TOU, "consumption"
        )
    )


def test_routes_and_memberships(county):
    run()
    active = Account.objects.filter(status=AccountStatus.ACTIVE)
    assert RouteMembership.objects.count() == active.count() == 7
    assert not RouteMembership.objects.filter(account=county.closed).exists()
    routes = list(Route.objects.order_by("code"))
    assert {r.unit_id for r in routes} == {county.station_a.pk, county.station_b.pk}
    for r in routes:
        assert 1 <= r.reading_day <= 25
        assert r.name.endswith("第1抄表段") and r.name.startswith(r.unit.name)
        assert r.code.startswith("R") and r.code.endswith("-01")
    # The bureau's meter reader reads station A's route; station B has none.
    assert Route.objects.get(unit=county.station_a).reader == county.a_reader
    assert Route.objects.get(unit=county.station_b).reader is None
    seqs = list(
        RouteMembership.objects.filter(route__unit=county.station_a)
        .order_by("sequence")
        .values_list("account__account_number", "sequence")
    )
    assert seqs == [("3100000001", 1), ("3100000002", 2), ("3100000003", 3), ("3100000004", 4)]


def test_reads(county):
    run()
    meters = Meter.objects.filter(service_point__account__status=AccountStatus.ACTIVE)
    assert meters.count() == 7
    assert not MeterRead.objects.filter(account=county.closed).exists()
    for meter in meters:
        reads = list(MeterRead.objects.filter(meter=meter).order_by("read_at"))
        assert len(reads) == 4
        day = meter.service_point.account.route_membership.route.reading_day
        assert [(r.read_at.year, r.read_at.month) for r in reads] == [
            (2025, 12),
            (2026, 1),
            (2026, 2),
            (2026, 3),
        ]
        for r in reads:
            local = r.read_at.astimezone(demo.BEIJING)
            assert (local.day, local.hour, local.minute) == (day, 9, 0)
            assert r.source == ReadSource.AMI and r.status == ReadStatus.VALID
            assert r.unit_id == meter.unit_id and r.account_id == meter.service_point.account_id
        assert reads[0].consumption == 0
        span = Decimal(10) ** meter.digits
        for prev, cur in zip(reads, reads[1:], strict=False):
            advance = (cur.total - prev.total) % span  # with rollover
            assert cur.consumption == advance * meter.multiplier
            assert cur.consumption > 0
            if meter.has_tou:
                tou_advance = sum((getattr(cur, f) - getattr(prev, f)) % span for f in TOU)
                assert tou_advance == advance
        for r in reads:
            assert 0 <= r.total < span
            if meter.has_tou:
                assert sum(getattr(r, f) for f in TOU) % span == r.total
            else:
                assert all(getattr(r, f) is None for f in TOU)


def test_consumption_by_hand(county):
    """One meter, by hand: large industry with 倍率 50 on an 8-digit register."""
    run()
    meter = Meter.objects.get(asset_number="M3100000004")
    reads = list(MeterRead.objects.filter(meter=meter).order_by("read_at"))
    prev, cur = reads[1], reads[2]
    span = Decimal(100_000_000)
    advance = cur.total - prev.total if cur.total >= prev.total else span - prev.total + cur.total
    assert cur.consumption == advance * 50
    assert Decimal(50_000) <= cur.consumption <= Decimal(500_000) + 50
    assert cur.sharp + cur.peak + cur.flat + cur.valley == cur.total or cur.total < prev.total


def test_rollover(county):
    """A register near the top of its range wraps at 10**digits; consumption stays positive."""
    run()
    meter = Meter.objects.get(asset_number="M3200000003")
    first = MeterRead.objects.filter(meter=meter).order_by("read_at").first()
    # Lift the whole history so the next months must wrap, then re-seed the later months.
    MeterRead.objects.filter(meter=meter).exclude(pk=first.pk).delete()
    MeterRead.objects.filter(pk=first.pk).update(total=Decimal("999999.00"))
    run()
    reads = list(MeterRead.objects.filter(meter=meter).order_by("read_at"))
    assert len(reads) == 4
    assert reads[1].total < reads[0].total
    assert reads[1].consumption == Decimal("1000000") - reads[0].total + reads[1].total
    assert reads[1].consumption > 0


def test_second_run_adds_nothing(county):
    run()
    before = (Route.objects.count(), RouteMembership.objects.count(), snapshot())
    run()
    assert (Route.objects.count(), RouteMembership.objects.count(), snapshot()) == before
    assert AuditEvent.objects.filter(action="demo.seed_readings").count() == 2


def test_later_window_continues(county):
    run()
    last = MeterRead.objects.filter(meter__asset_number="M3100000001").order_by("-read_at").first()
    call_command("seed_readings", months=1, end="2026-04", seed=7)
    reads = list(MeterRead.objects.filter(meter__asset_number="M3100000001").order_by("read_at"))
    assert len(reads) == 5 and reads[3].pk == last.pk
    assert reads[4].consumption == (reads[4].total - reads[3].total) % Decimal(10**6)


def test_deterministic(county):
    run()
    first = snapshot()
    MeterRead.objects.all().delete()
    run()
    assert snapshot() == first
    MeterRead.objects.all().delete()
    call_command("seed_readings", months=3, end="2026-03", seed=8)
    assert [r[2] for r in snapshot()] != [r[2] for r in first]


def test_seasonal_residential(county):
    """Residential consumption stays within 80–400 kWh a month."""
    call_command("seed_readings", months=12, end="2026-03", seed=7)
    values = MeterRead.objects.filter(
        account__customer__customer_class=CustomerClass.RESIDENTIAL, consumption__gt=0
    ).values_list("consumption", flat=True)
    assert values and all(Decimal(80) <= v <= Decimal(400) for v in values)


def test_large_load_path(county):
    """The PostgreSQL bulk path (indexes and foreign keys dropped and rebuilt) writes the same reads."""
    from django.db import connection

    result = demo.seed_readings(months=3, end=(2026, 3), seed=7, drop_indexes=True, fork=True)
    assert result.reads == 28 and result.meters == 7
    first = snapshot()
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_constraint WHERE conname = 'metering_read_meter_read_at_uniq'"
            )
            assert cur.fetchone()[0] == 1
    MeterRead.objects.all().delete()
    demo.seed_readings(months=3, end=(2026, 3), seed=7, drop_indexes=False, fork=False)
    assert snapshot() == first
