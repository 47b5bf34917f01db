"""Frequent outages (频繁停电): K = 3 sustained interruptions within W = 61 days; momentary ones never count;
one case per newly listed account; the case update service and API."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.outages.choices import OutageStatus
from gridcare.outages.freeze import freeze
from gridcare.outages.frequent import (
    frequent_case_update,
    frequent_cases_open,
    frequent_outage_list,
    qualifying_streak,
)
from gridcare.outages.models import FrequentOutageCase, OutageEvent, OutageScope

CN = ZoneInfo("Asia/Shanghai")
_seq = iter(range(1, 10_000))


def outage(grid, day: date, *, area=None, kind="fault", minutes=60, status=OutageStatus.RESTORED):
    start = datetime(day.year, day.month, day.day, 10, tzinfo=CN)
    ev = OutageEvent.objects.create(
        number=f"TD-F-{next(_seq)}",
        unit=grid.world.station_a,
        kind=kind,
        status=status,
        title="t",
        planned_start=start,
        planned_end=start + timedelta(hours=4),
    )
    OutageScope.objects.create(event=ev, transformer_area=area or grid.t3)
    freeze(ev, start=start, end=start + timedelta(minutes=minutes))
    return ev


def test_pure_rule_example_f():
    d = date
    # 2025-01-01 → 03-02 is 31 + 28 + 1 = 60 days ≤ 60 (= W − 1): listed
    assert qualifying_streak(
        [d(2025, 1, 1), d(2025, 2, 1), d(2025, 3, 2)], today=d(2025, 3, 2), count=3, window=61
    )
    # third on 03-03: 61 days > 60: not listed
    assert (
        qualifying_streak(
            [d(2025, 1, 1), d(2025, 2, 1), d(2025, 3, 3)], today=d(2025, 3, 3), count=3, window=61
        )
        is None
    )
    # listed until 60 days after the last one (03-02 + 60 = 05-01), gone on 05-02
    days = [d(2025, 1, 1), d(2025, 2, 1), d(2025, 3, 2)]
    assert qualifying_streak(days, today=d(2025, 5, 1), count=3, window=61) == days
    assert qualifying_streak(days, today=d(2025, 5, 2), count=3, window=61) is None


def test_example_f_on_stored_outages_planned_included_momentary_never(grid):
    outage(grid, date(2025, 1, 1), kind="planned")
    outage(grid, date(2025, 2, 1))
    outage(grid, date(2025, 2, 15), minutes=5)  # 300 s: momentary, never counts
    outage(grid, date(2025, 3, 2), kind="external")
    rows = frequent_outage_list(grid.world.a_manager, unit_id=grid.world.bureau_a.pk, today=date(2025, 3, 10))
    # both T3 accounts, 3 sustained interruptions each, the momentary one left out
    assert [(r["account_number"], r["count"]) for r in rows] == [("3100000300", 3), ("3100000301", 3)]
    assert rows[0]["dates"] == [date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 2)]
    assert rows[0]["area_code"] == "T3" and rows[0]["case"] is None
    # bureau B sees none of it: 404 for bureau A's unit
    from django.http import Http404

    with pytest.raises(Http404):
        frequent_outage_list(grid.world.b_clerk, unit_id=grid.world.bureau_a.pk, today=date(2025, 3, 10))


def test_61_days_apart_is_not_listed_and_cancelled_or_unstarted_do_not_count(grid):
    outage(grid, date(2025, 1, 1))
    outage(grid, date(2025, 2, 1))
    outage(grid, date(2025, 3, 3))  # 61 days after 01-01
    assert (
        frequent_outage_list(grid.world.a_manager, unit_id=grid.world.bureau_a.pk, today=date(2025, 3, 5))
        == []
    )
    # a cancelled event in between would have made 3 within 61 days: it does not count
    outage(grid, date(2025, 2, 10), status=OutageStatus.CANCELLED)
    assert (
        frequent_outage_list(grid.world.a_manager, unit_id=grid.world.bureau_a.pk, today=date(2025, 3, 5))
        == []
    )
    outage(grid, date(2025, 2, 11))  # 02-01, 02-11, 03-03: 30 days → listed with those 3
    rows = frequent_outage_list(grid.world.a_manager, unit_id=grid.world.bureau_a.pk, today=date(2025, 3, 5))
    # the window of 61 days ending 03-03 starts 01-02: 02-01, 02-11, 03-03 (01-01 is outside)
    assert rows[0]["dates"] == [date(2025, 2, 1), date(2025, 2, 11), date(2025, 3, 3)]


def test_cases_open_once_per_account(grid):
    for d in (date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 2)):
        outage(grid, d)
    assert frequent_cases_open(today=date(2025, 3, 2)) == 2  # the two T3 accounts
    assert frequent_cases_open(today=date(2025, 3, 3)) == 0  # idempotent
    case = FrequentOutageCase.objects.get(account=grid.accounts["T3"][0])
    assert (case.first_day, case.last_day, case.count, case.status) == (
        date(2025, 1, 1),
        date(2025, 3, 2),
        3,
        "open",
    )
    # a fourth trip refreshes the open case instead of opening another
    outage(grid, date(2025, 3, 20))
    assert frequent_cases_open(today=date(2025, 3, 20)) == 0
    case.refresh_from_db()
    # the 61-day window ending 03-20 starts 01-19: 02-01, 03-02, 03-20 → 3; last day 03-20
    assert (case.last_day, case.count) == (date(2025, 3, 20), 3)
    # closed: nothing new since → no new case; a new trip after closing → a new case from that trip
    frequent_case_update(
        actor=Actor(user=grid.world.admin), case=case, action="更换台区出线电缆", status="done"
    )
    assert frequent_cases_open(today=date(2025, 3, 21)) == 0
    outage(grid, date(2025, 4, 1))
    assert frequent_cases_open(today=date(2025, 4, 1)) == 1
    new = FrequentOutageCase.objects.get(account=grid.accounts["T3"][0], status="open")
    assert new.first_day == date(2025, 4, 1) and new.last_day == date(2025, 4, 1)


def test_case_update_validates_audits_and_is_scoped(grid):
    for d in (date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 3)):
        outage(grid, d)
    frequent_cases_open(today=date(2025, 1, 3))
    case = FrequentOutageCase.objects.filter(account=grid.accounts["T3"][0]).get()
    with pytest.raises(ValidationError) as e:
        frequent_case_update(actor=Actor(user=grid.world.admin), case=case, action="", status="finished")
    assert "status" in e.value.message_dict
    with pytest.raises(ValidationError) as e:
        frequent_case_update(actor=Actor(user=grid.world.admin), case=case, action="", status="done")
    assert "action" in e.value.message_dict
    case = frequent_case_update(
        actor=Actor(user=grid.world.admin),
        case=case,
        action="清理树障",
        status="in_progress",
        owner=grid.world.a_manager,
    )
    assert case.owner == grid.world.a_manager and case.closed_at is None
    assert AuditEvent.objects.get(action="outage.frequent_case").changes["status"] == ["open", "in_progress"]


def test_api_list_and_patch(grid, login):
    for d in (date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 3)):
        outage(grid, d)
    frequent_cases_open(today=date(2025, 1, 3))
    case = FrequentOutageCase.objects.get(account=grid.accounts["T3"][1])
    agent = login(grid.world.a_agent)
    r = agent.get(f"/api/v1/reliability/frequent?unit={grid.world.bureau_a.pk}&today=2025-01-03")
    assert r.status_code == 200
    assert [(x["account_number"], x["count"], x["case"]["status"]) for x in r.json()] == [
        ("3100000300", 3, "open"),
        ("3100000301", 3, "open"),
    ]
    # the agent may view but not act: 403, nothing changed
    r = agent.patch(
        f"/api/v1/reliability/frequent/{case.pk}", {"status": "done"}, content_type="application/json"
    )
    assert r.status_code == 403
    admin = login(grid.world.admin)
    r = admin.patch(
        f"/api/v1/reliability/frequent/{case.pk}",
        {"status": "done", "action": ""},
        content_type="application/json",
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "action"
    r = admin.patch(
        f"/api/v1/reliability/frequent/{case.pk}",
        {"status": "done", "action": "改造低压线路"},
        content_type="application/json",
    )
    assert r.status_code == 200 and r.json()["status"] == "done"
    case.refresh_from_db()
    assert case.status == "done" and case.closed_at is not None
    # bureau B's staff: the list of bureau A is not found
    assert (
        login(grid.world.b_clerk)
        .get(f"/api/v1/reliability/frequent?unit={grid.world.bureau_a.pk}")
        .status_code
        == 404
    )


def test_the_daily_job_opens_cases_and_is_scheduled_at_0630(grid):
    from gridcare.jobs import services as job_services
    from gridcare.jobs.registry import SCHEDULES

    for d in (date(2025, 1, 1), date(2025, 1, 20), date(2025, 2, 5)):
        outage(grid, d)
    job = job_services.create("outages.frequent", {"date": "2025-02-05"}, actor=Actor())
    job = job_services.run(job.pk)
    assert job.state == "succeeded" and job.result == {"date": "2025-02-05", "opened": 2}
    assert FrequentOutageCase.objects.count() == 2
    assert SCHEDULES["outages.frequent"].crontab == {"minute": "30", "hour": "6"}


def test_a_dispatcher_of_another_bureau_gets_404_and_nothing_changes(grid, login):
    from tests.factories import UserFactory

    for d in (date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 3)):
        outage(grid, d)
    frequent_cases_open(today=date(2025, 1, 3))
    case = FrequentOutageCase.objects.filter(account=grid.accounts["T3"][0]).get()
    b_disp = UserFactory(username="b_disp", role="dispatcher", unit=grid.world.bureau_b)
    a_disp = UserFactory(username="a_disp", role="dispatcher", unit=grid.world.bureau_a)
    body = {"status": "done", "action": "改造"}
    r = login(b_disp).patch(f"/api/v1/reliability/frequent/{case.pk}", body, content_type="application/json")
    assert r.status_code == 404
    case.refresh_from_db()
    assert case.status == "open" and not AuditEvent.objects.filter(action="outage.frequent_case").exists()
    r = login(a_disp).patch(f"/api/v1/reliability/frequent/{case.pk}", body, content_type="application/json")
    assert r.status_code == 200 and r.json()["status"] == "done"
