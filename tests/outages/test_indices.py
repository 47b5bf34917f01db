"""Indices on stored data: the same `reliability.compute` fed from GROUP BY aggregates, time-weighted N_T, MV basis,
area groups, CEMI, open interruptions, scope; the monthly trend with its projection and traffic lights."""

import math
import statistics
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.http import Http404

from gridcare.customers.models import Account, Premise
from gridcare.outages.freeze import freeze
from gridcare.outages.indices import reliability_indices, reliability_monthly
from gridcare.outages.models import Interruption, OutageArea, OutageEvent, OutageScope, ReliabilityTarget
from gridcare.outages.reliability import Event, compute

CN = ZoneInfo("Asia/Shanghai")
_seq = iter(range(1, 10_000))


def at(y, m, d, h=10, mi=0):
    return datetime(y, m, d, h, mi, tzinfo=CN)


def outage(grid, kind, start, end, *, areas=(), feeders=()):
    ev = OutageEvent.objects.create(
        number=f"TD-{next(_seq)}",
        unit=grid.world.station_a,
        kind=kind,
        title="t",
        planned_start=start,
        planned_end=start + timedelta(hours=1),
    )
    for a in areas:
        OutageScope.objects.create(event=ev, transformer_area=a)
    for f in feeders:
        OutageScope.objects.create(event=ev, feeder=f)
    freeze(ev, start=start, end=end, as_of=date(2025, 1, 1))
    return ev


def test_example_c_time_weighted_customers(world):
    """Period 2025-01-01..01-10: 100 accounts all period, 10 more opened 01-06 → N_T = (5·100 + 5·110)/10 = 105.
    A 1-hour fault of 21 customers on 01-08: SAIFI 21/105 = 0.2, SAIDI 21 × 1 h / 105 = 0.2 h."""
    area = world.area_a
    premise = Premise.objects.create(address="x", unit=area.unit, transformer_area=area)
    # world already holds one account in station A (3100000001, opened 2020): closed before the MED history below
    Account.objects.filter(pk=world.acct_a.pk).update(closed_on=date(2024, 1, 1))
    rows = [
        Account(
            account_number=f"39{i:08d}",
            customer=world.cust_a,
            premise=premise,
            unit=area.unit,
            opened_on=date(2024, 6, 1) if i < 100 else date(2025, 1, 6),
        )
        for i in range(110)
    ]
    Account.objects.bulk_create(rows)
    ev = OutageEvent.objects.create(
        number="TD-C",
        unit=area.unit,
        kind="fault",
        title="c",
        planned_start=at(2025, 1, 8),
        planned_end=at(2025, 1, 8, 11),
    )
    oa = OutageArea.objects.create(
        event=ev,
        transformer_area=area,
        feeder=area.feeder,
        unit=area.unit,
        area_type=area.area_type,
        area_name=area.name,
        customers=21,
        est_restoration=at(2025, 1, 8, 11),
    )
    Interruption.objects.create(
        event=ev,
        area=oa,
        unit=area.unit,
        area_type=area.area_type,
        kind="fault",
        start=at(2025, 1, 8),
        end=at(2025, 1, 8, 11),
        day=date(2025, 1, 8),
        duration_s=3600,
        customers=21,
        mv_users=1,
    )
    out = reliability_indices(
        user=world.admin, unit_id=world.station_a.pk, start=date(2025, 1, 1), end=date(2025, 1, 10)
    )
    assert out["customers_served"] == pytest.approx((5 * 100 + 5 * 110) / 10)  # 105
    assert out["customers_used"] == {"mean": 105.0, "min": 100, "max": 110}
    assert out["all"]["saifi"] == pytest.approx(21 / 105)
    assert out["all"]["saidi_hours"] == pytest.approx(0.2)
    assert out["period_hours"] == 240
    assert out["all"]["asai_percent"] == pytest.approx((1 - 0.2 / 240) * 100)
    assert out["unit"] == {
        "id": world.station_a.pk,
        "code": world.station_a.code,
        "name": world.station_a.name,
    }
    # the bureau above sees the same accounts; bureau B's unit subtree holds none of them
    b = reliability_indices(
        user=world.admin, unit_id=world.bureau_b.pk, start=date(2025, 1, 1), end=date(2025, 1, 10)
    )
    assert b["customers_served"] == 1 and b["all"]["saifi"] == 0


def test_stored_path_equals_compute_on_the_same_data_with_a_med(grid):
    """Station A: T1 4, T2 3, T3 2 accounts + world's acct_a = 10 LV customers, all in service since 2020.
    History: three 1-area faults on three days; period: a feeder-wide fault (MED), a planned, an external,
    a shortage, a momentary and a 2-day interruption. The stored answer equals compute() on the same groups."""
    g = grid
    hist = [
        ("fault", at(2024, 3, 1), at(2024, 3, 1, 11), [g.t1]),  # 4 × 60 min / 10 = 24 min
        ("fault", at(2024, 4, 1), at(2024, 4, 1, 12), [g.t3]),  # 2 × 120 / 10 = 24 min
        ("planned", at(2024, 5, 1), at(2024, 5, 1, 10, 30), [g.t2]),  # 3 × 30 / 10 = 9 min
    ]
    period = [
        ("fault", at(2025, 2, 1), at(2025, 2, 1, 18), [], [g.f1, g.f2]),  # 9 × 480 min / 10 = 432 min: MED
        ("planned", at(2025, 3, 1), at(2025, 3, 1, 12), [g.t1], []),
        ("external", at(2025, 4, 1), at(2025, 4, 1, 11), [g.t2], []),
        ("shortage", at(2025, 5, 1), at(2025, 5, 1, 13), [g.t3], []),
        ("fault", at(2025, 6, 1), at(2025, 6, 1, 10, 4), [g.t1], []),  # 4 min: momentary
        ("fault", at(2025, 7, 1, 22), at(2025, 7, 2, 2), [g.t3], []),  # 4 h past midnight, all on 07-01
    ]
    for kind, s, e, areas in hist:
        outage(g, kind, s, e, areas=areas)
    for kind, s, e, areas, feeders in period:
        outage(g, kind, s, e, areas=areas, feeders=feeders)
    got = reliability_indices(
        user=g.world.admin, unit_id=g.world.bureau_a.pk, start=date(2025, 1, 1), end=date(2025, 12, 31)
    )
    events = [Event(str(i.pk), i.start, i.end, i.customers, i.kind) for i in Interruption.objects.all()]
    want = compute(customers_served=10, start=date(2025, 1, 1), end=date(2025, 12, 31), events=events)
    assert got["major_event_days"] == want["major_event_days"] == ["2025-02-01"]
    assert got["t_med_minutes"] == pytest.approx(want["t_med_minutes"])
    for part in ("all", "excluding_med"):
        for k, v in want[part].items():
            assert got[part][k] == pytest.approx(v), (part, k)
    # by hand: T_MED from ln 24, ln 24, ln 9 ≈ exp(2.851 + 2.5 × 0.567) ≈ 71 min; 07-01: 2 × 240 / 10 = 48 min
    # sustained customer-hours 9·8 + 4·2 + 3·1 + 2·3 + 2·4 = 97 → SAIDI 9.7 h; SAIFI (9+4+3+2+2)/10 = 2
    assert got["all"]["saidi_hours"] == pytest.approx(97 / 10)
    assert got["all"]["saifi"] == pytest.approx(20 / 10)
    assert got["all"]["maifi"] == pytest.approx(4 / 10)
    assert got["excluding_med"]["saidi_hours"] == pytest.approx((97 - 72) / 10)
    # CEMI: the T1 accounts had the MED fault + the planned one (2 sustained, the momentary does not count),
    # T3 accounts: MED + shortage + the 4 h one = 3; T2: MED + external = 2 → more than 1: 4+3+2 = 9 of 10;
    # more than 2: T3's 2 → 0.2; excluding the MED: T3 has 2 (> 1) → 0.2, T1 1, T2 1
    assert got["cemi"]["all"] == {"1": 0.9, "2": 0.2, "3": 0.0, "4": 0.0, "5": 0.0}
    assert got["cemi"]["excluding_med"]["1"] == pytest.approx(0.2)
    assert got["open_interruptions"] == 0


def test_mv_basis_counts_public_transformers_and_dedicated_users(grid):
    """Station A MV users: public T1, T2, T3, world.area_a = 4, + 1 dedicated (T2's 10 kV account) = 5.
    A 2-hour fault on F1 (T1, T2): T1 public 1 + T2 public 1 + its dedicated 1 = 3 users → SAIFI 3/5 = 0.6,
    SAIDI 3 × 2 / 5 = 1.2 h."""
    outage(grid, "fault", at(2025, 3, 1), at(2025, 3, 1, 12), feeders=[grid.f1])
    out = reliability_indices(
        user=grid.world.admin,
        unit_id=grid.world.station_a.pk,
        start=date(2025, 1, 1),
        end=date(2025, 12, 31),
        basis="mv",
    )
    assert out["customers_served"] == 5
    assert out["all"]["saifi"] == pytest.approx(0.6)
    assert out["all"]["saidi_hours"] == pytest.approx(1.2)
    assert out["basis"] == "mv"
    # CEMI (MV): each area had one event → nobody has more than one
    assert out["cemi"]["all"]["1"] == 0


def test_area_groups_filter_customers_and_interruptions(grid):
    """urban = centre + urban: T1 (urban, 4) + T2 (centre, 3) + world.area_a (urban factory default, 1) = 8;
    rural: T3 = 2. A 1-hour fault on T3 (2 customers): rural SAIFI 2/2 = 1, SAIDI 1 h; urban untouched;
    centre: T2 only (3 customers)."""
    outage(grid, "fault", at(2025, 3, 1), at(2025, 3, 1, 11), areas=[grid.t3])
    args = dict(
        user=grid.world.admin, unit_id=grid.world.station_a.pk, start=date(2025, 1, 1), end=date(2025, 12, 31)
    )
    rural = reliability_indices(**args, area_group="rural")
    urban = reliability_indices(**args, area_group="urban")
    centre = reliability_indices(**args, area_group="centre")
    every = reliability_indices(**args)
    assert (rural["customers_served"], urban["customers_served"], centre["customers_served"]) == (2, 8, 3)
    assert rural["all"]["saidi_hours"] == pytest.approx(1.0)
    assert urban["all"]["saifi"] == 0
    assert every["all"]["saifi"] == pytest.approx(2 / 10)


def test_open_interruptions_count_up_to_as_of(grid):
    """T1 (4 customers) out since 10:00, still open; as of 13:00 → 3 h: SAIDI 4 × 3 / 10 = 1.2 h."""
    ev = OutageEvent.objects.create(
        number="TD-OPEN",
        unit=grid.world.station_a,
        kind="fault",
        title="o",
        planned_start=at(2025, 3, 1),
        planned_end=at(2025, 3, 1, 12),
    )
    OutageScope.objects.create(event=ev, transformer_area=grid.t1)
    freeze(ev, start=at(2025, 3, 1))
    out = reliability_indices(
        user=grid.world.admin,
        unit_id=grid.world.station_a.pk,
        start=date(2025, 3, 1),
        end=date(2025, 3, 31),
        as_of=at(2025, 3, 1, 13),
    )
    assert out["open_interruptions"] == 1
    assert out["all"]["saidi_hours"] == pytest.approx(1.2)
    assert out["cemi"]["all"]["1"] == 0  # one interruption each: nobody has more than one


def test_a_unit_outside_the_users_subtree_is_404(grid):
    with pytest.raises(Http404):
        reliability_indices(
            user=grid.world.b_clerk,
            unit_id=grid.world.station_a.pk,
            start=date(2025, 1, 1),
            end=date(2025, 1, 2),
        )
    with pytest.raises(Http404):
        reliability_indices(
            user=grid.world.portal_user,
            unit_id=grid.world.station_a.pk,
            start=date(2025, 1, 1),
            end=date(2025, 1, 2),
        )


def test_monthly_trend_projection_and_lights(grid):
    """2025 (365 days), today = 2025-03-31 (90 days elapsed). Faults: Jan T1 4 cust × 3 h = 12, Mar T3 2 × 6 h = 12
    customer-hours; N = 10 → YTD SAIDI 2.4 h; Jan 1.2, Feb 0, Mar 1.2; projected 2.4 × 365 / 90 = 9.7333 h.
    Targets (SPEC defaults): all SAIDI < 15.6 → green; rural RS-1 ≥ 99.8 %: rural YTD SAIDI = 12/2 = 6 h,
    projected 6 × 365/90 = 24.33 h → RS-1 (1 − 24.33/8760)·100 = 99.722 % (unavailability 0.278 % vs 0.2 %
    allowed: misses by 39 %) → red; centre SAIDI < 1 h: centre untouched → green; urban RS-1: urban SAIDI
    12/8 = 1.5 h, projected 6.083 h → 99.9306 % ≥ 99.9 → green. A stored SAIFI target 0.5 for all: YTD SAIFI
    (4+2)/10 = 0.6 > 0.5 → red."""
    outage(grid, "fault", at(2025, 1, 10), at(2025, 1, 10, 13), areas=[grid.t1])
    outage(grid, "fault", at(2025, 3, 5), at(2025, 3, 5, 16), areas=[grid.t3])
    ReliabilityTarget.objects.create(
        unit=grid.world.bureau_a,
        year=2025,
        area_group="all",
        basis="lv",
        saidi_hours_max=Decimal("15.6"),
        saifi_max=Decimal("0.5"),
    )
    out = reliability_monthly(
        user=grid.world.admin, unit_id=grid.world.bureau_a.pk, year=2025, today=date(2025, 3, 31)
    )
    saidi = [m["all"]["saidi_hours"] if m["all"] else None for m in out["months"]]
    assert saidi[:3] == [pytest.approx(1.2), 0.0, pytest.approx(1.2)]
    assert saidi[3:] == [None] * 9
    assert out["ytd"]["all"]["saidi_hours"] == pytest.approx(2.4)
    assert out["projected_saidi_hours"] == pytest.approx(2.4 * 365 / 90)
    t = out["targets"]
    assert t["all"]["lights"] == {"saidi_hours": "green", "rs1_percent": None, "saifi": "red"}
    assert t["all"]["light"] == "red"
    assert t["rural"]["projected"]["saidi_hours"] == pytest.approx(6 * 365 / 90)
    assert t["rural"]["light"] == "red"
    assert t["urban"]["projected"]["asai_percent"] == pytest.approx((1 - 1.5 * 365 / 90 / 8760) * 100)
    assert t["urban"]["light"] == "green"
    assert t["centre"]["light"] == "green"


def test_monthly_amber_when_the_projection_misses_by_at_most_ten_percent(grid):
    """Centre target SAIDI < 1 h. T2 (the centre's 3 customers) out 30 min on 2025-06-30 (day 181 of 365):
    YTD 3 × 0.5 / 3 = 0.5 h ≤ 1; projected 0.5 × 365/181 = 1.0083 h: misses by 0.8 % (≤ 10 %) → amber."""
    outage(grid, "fault", at(2025, 6, 30), at(2025, 6, 30, 10, 30), areas=[grid.t2])
    out = reliability_monthly(
        user=grid.world.admin, unit_id=grid.world.station_a.pk, year=2025, today=date(2025, 6, 30)
    )
    assert out["targets"]["centre"]["projected"]["saidi_hours"] == pytest.approx(0.5 * 365 / 181)
    assert out["targets"]["centre"]["light"] == "amber"


def _interruption(area, start, minutes, customers, number):
    end = start + timedelta(minutes=minutes)
    ev = OutageEvent.objects.create(
        number=number, unit=area.unit, kind="fault", title="x", planned_start=start, planned_end=end
    )
    oa = OutageArea.objects.create(
        event=ev,
        transformer_area=area,
        feeder=area.feeder,
        unit=area.unit,
        area_type=area.area_type,
        area_name=area.name,
        customers=customers,
        est_restoration=end,
    )
    Interruption.objects.create(
        event=ev,
        area=oa,
        unit=area.unit,
        area_type=area.area_type,
        kind="fault",
        start=start,
        end=end,
        day=start.date(),
        duration_s=minutes * 60,
        customers=customers,
        mv_users=1,
    )


def test_daily_saidi_uses_each_days_own_count(world):
    """Example C's accounts (100 from 2024-06-01, 10 more from 2025-01-06; N_T = 105). History: 10 customers
    × 60 min on 2024-12-01 and × 120 min on 12-02, N(d) = 100 → daily 6 and 12 min → T_MED = exp(mean(ln 6, ln 12)
    + 2.5 × stdev) = √72 × 2^(2.5/√2) ≈ 28.895 min. On 2025-01-08 21 customers × 150 min: with that day's own
    N = 110 the daily SAIDI is 3150/110 ≈ 28.636 < T_MED → no MED (with N_T = 105 it would be 30.0, a MED)."""
    test_example_c_time_weighted_customers(world)  # the accounts and example C's own 1-hour fault on 01-08
    Interruption.objects.all().delete()
    area = world.area_a
    _interruption(area, at(2024, 12, 1), 60, 10, "H-1")
    _interruption(area, at(2024, 12, 2), 120, 10, "H-2")
    _interruption(area, at(2025, 1, 8), 150, 21, "P-1")
    out = reliability_indices(
        user=world.admin, unit_id=world.station_a.pk, start=date(2025, 1, 1), end=date(2025, 1, 10)
    )
    logs = [math.log(6), math.log(12)]
    t_med = math.exp(statistics.fmean(logs) + 2.5 * statistics.stdev(logs))
    assert t_med == pytest.approx(math.sqrt(72) * 2 ** (2.5 / math.sqrt(2)))
    assert out["t_med_minutes"] == pytest.approx(t_med)
    assert 21 * 150 / 110 < t_med < 21 * 150 / 105
    assert out["major_event_days"] == []
    assert out["all"]["saidi_hours"] == pytest.approx(21 * 2.5 / 105)
