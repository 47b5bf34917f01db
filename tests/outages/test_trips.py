"""Trip remediation (故障跳闸专项治理): fault trips per feeder in the last 12 months, ranked; actions with
before/after counts."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.outages.freeze import freeze
from gridcare.outages.models import OutageEvent, OutageScope, TripAction
from gridcare.outages.trips import trip_action_create, trip_action_update, trip_ranking
from tests.factories import AreaFactory, FeederFactory

CN = ZoneInfo("Asia/Shanghai")
_seq = iter(range(1, 10_000))
TODAY = date(2025, 6, 30)


def trip(grid, day: date, *areas, feeders=(), kind="fault"):
    start = datetime(day.year, day.month, day.day, 9, tzinfo=CN)
    ev = OutageEvent.objects.create(
        number=f"TD-T-{next(_seq)}",
        unit=grid.world.station_a,
        kind=kind,
        status="restored",
        title="t",
        planned_start=start,
        planned_end=start + timedelta(hours=2),
    )
    for a in areas:
        OutageScope.objects.create(event=ev, transformer_area=a)
    for f in feeders:
        OutageScope.objects.create(event=ev, feeder=f)
    freeze(ev, start=start, end=start + timedelta(hours=1))
    return ev


def test_ranking_counts_each_event_once_per_feeder(grid):
    f3 = FeederFactory(code="F0", name="10kV东关三线", unit=grid.world.station_a)
    AreaFactory(code="T4", feeder=f3, unit=grid.world.station_a)
    trip(grid, date(2025, 6, 1), grid.t1, grid.t2)  # both areas on F1: one trip of F1
    trip(grid, date(2025, 5, 1), feeders=[grid.f1, grid.f2])  # one trip of F1 and one of F2
    trip(grid, date(2024, 7, 1), grid.t3)  # first day of the window (2024-06-30 excluded): F2
    trip(grid, date(2024, 6, 30), grid.t3)  # 12 months + 1 day ago: out
    trip(grid, date(2025, 6, 2), grid.t3, kind="planned")  # not a fault
    trip(grid, date(2025, 6, 3), grid.t3, kind="external")  # not a fault
    trip(grid, date(2025, 7, 1), grid.t3)  # after today: out
    rows = trip_ranking(grid.world.a_manager, unit_id=grid.world.bureau_a.pk, today=TODAY)
    # F1: 06-01 + 05-01 = 2; F2: 05-01 + 2024-07-01 = 2 → tie broken by code; F0 has none and no action: absent
    assert [(r["feeder_code"], r["trips"]) for r in rows] == [("F1", 2), ("F2", 2)]


def test_action_before_and_after_counts(grid):
    # F2 trips: 2024-03-10, 2024-09-01, 2024-12-31 (before 2025-01-01), 2025-01-01, 2025-04-01 (since)
    for d in (date(2024, 3, 10), date(2024, 9, 1), date(2024, 12, 31), date(2025, 1, 1), date(2025, 4, 1)):
        trip(grid, d, grid.t3)
    admin = Actor(user=grid.world.admin)
    a = trip_action_create(actor=admin, feeder_code="F2", action="加装线路故障指示器与分段开关")
    a = trip_action_update(actor=admin, action=a, status="done", done_on=date(2025, 1, 1), today=TODAY)
    rows = trip_ranking(grid.world.a_agent, unit_id=grid.world.bureau_a.pk, today=TODAY)
    f2 = next(r for r in rows if r["feeder_code"] == "F2")
    # last 12 months (2024-07-01..2025-06-30): 09-01, 12-31, 01-01, 04-01 = 4
    assert f2["trips"] == 4
    act = f2["actions"][0]
    # before: [2024-01-01, 2025-01-01): 2024-03-10, 09-01, 12-31 = 3; after: [2025-01-01, 06-30]: 01-01, 04-01 = 2
    # months elapsed 2025-01-01 → 06-30: 5 whole months (the 6th ends 07-01); days 180
    assert (act["before"], act["after"], act["months_elapsed"], act["days_elapsed"]) == (3, 2, 5, 180)
    assert AuditEvent.objects.filter(action="outage.trip_action").count() == 2


def test_a_feeder_with_an_action_and_no_trip_is_listed_at_zero(grid):
    trip_action_create(actor=Actor(user=grid.world.admin), feeder_code="F1", action="更换老旧导线")
    rows = trip_ranking(grid.world.a_manager, unit_id=grid.world.bureau_a.pk, today=TODAY)
    assert [(r["feeder_code"], r["trips"], r["actions"][0]["before"]) for r in rows] == [("F1", 0, None)]


def test_action_validation(grid):
    admin = Actor(user=grid.world.admin)
    with pytest.raises(ValidationError) as e:
        trip_action_create(actor=admin, feeder_code="NOPE", action="")
    assert set(e.value.message_dict) == {"feeder_code", "action"}
    a = trip_action_create(actor=admin, feeder_code="F1", action="x")
    with pytest.raises(ValidationError) as e:
        trip_action_update(actor=admin, action=a, status="done", today=TODAY)
    assert set(e.value.message_dict) == {"done_on"}
    with pytest.raises(ValidationError) as e:
        trip_action_update(
            actor=admin, action=a, status="done", done_on=TODAY + timedelta(days=1), today=TODAY
        )
    assert set(e.value.message_dict) == {"done_on"}
    a.refresh_from_db()
    assert a.status == "open" and a.done_on is None


def test_api(grid, login):
    admin, agent = login(grid.world.admin), login(grid.world.a_agent)
    r = admin.post(
        "/api/v1/reliability/trips/actions",
        {"feeder_code": "F1", "action": "线路走廊清障"},
        content_type="application/json",
    )
    assert r.status_code == 201
    action_id = r.json()["id"]
    r = agent.post(
        "/api/v1/reliability/trips/actions",
        {"feeder_code": "F1", "action": "x"},
        content_type="application/json",
    )
    assert r.status_code == 403 and TripAction.objects.count() == 1
    r = admin.post(
        "/api/v1/reliability/trips/actions",
        {"feeder_code": "ZZ", "action": "x"},
        content_type="application/json",
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "feeder_code"
    r = admin.patch(
        f"/api/v1/reliability/trips/actions/{action_id}", {"status": "done"}, content_type="application/json"
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "done_on"
    r = admin.patch(
        f"/api/v1/reliability/trips/actions/{action_id}",
        {"status": "in_progress"},
        content_type="application/json",
    )
    assert r.status_code == 200 and r.json()["status"] == "in_progress"
    r = agent.get(f"/api/v1/reliability/trips?unit={grid.world.bureau_a.pk}&today=2025-06-30")
    assert (
        r.status_code == 200
        and r.json()[0]["feeder_code"] == "F1"
        and r.json()[0]["actions"][0]["id"] == action_id
    )
    assert (
        login(grid.world.b_clerk).get(f"/api/v1/reliability/trips?unit={grid.world.bureau_a.pk}").status_code
        == 404
    )
    assert login().get(f"/api/v1/reliability/trips?unit={grid.world.bureau_a.pk}").status_code == 401
