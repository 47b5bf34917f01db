"""Freezing: the affected accounts are derived from topology once; a later topology change rewrites nothing."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from gridcare.customers.models import Account, Premise
from gridcare.outages.freeze import freeze
from gridcare.outages.models import AffectedAccount, Interruption, OutageArea, OutageEvent, OutageScope

CN = ZoneInfo("Asia/Shanghai")


def event(grid, kind="fault"):
    return OutageEvent.objects.create(
        number="TD-T-1",
        unit=grid.world.station_a,
        kind=kind,
        title="test",
        planned_start=datetime(2025, 3, 1, 10, tzinfo=CN),
        planned_end=datetime(2025, 3, 1, 14, tzinfo=CN),
    )


def test_a_feeder_and_an_area_of_another_feeder_freeze_every_account_once(grid):
    ev = event(grid)
    OutageScope.objects.create(event=ev, feeder=grid.f1)
    OutageScope.objects.create(event=ev, transformer_area=grid.t2)  # already inside F1: counted once
    OutageScope.objects.create(event=ev, transformer_area=grid.t3)
    n = freeze(ev, start=datetime(2025, 3, 1, 2, 30, tzinfo=ZoneInfo("UTC")))
    assert n == 4 + 3 + 2
    ev.refresh_from_db()
    # MV users: T1 public transformer 1; T2 public 1 + 1 dedicated; T3 public 1 → 4
    assert (ev.customers, ev.mv_users) == (9, 4)
    assert {a.area_name: (a.customers, a.dedicated) for a in OutageArea.objects.filter(event=ev)} == {
        "东关1号台区": (4, 0),
        "东关2号台区": (3, 1),
        "东关3号台区": (2, 0),
    }
    # 02:30 UTC is 10:30 in China: the day is 2025-03-01, groups open
    assert set(Interruption.objects.filter(event=ev).values_list("day", "end", "customers")) == {
        (date(2025, 3, 1), None, 4),
        (date(2025, 3, 1), None, 3),
        (date(2025, 3, 1), None, 2),
    }
    important = AffectedAccount.objects.get(event=ev, important=True)
    assert important.account == grid.accounts["T2"][0] and important.dedicated


def test_a_later_topology_change_rewrites_nothing_and_closed_accounts_are_left_out(grid):
    Account.objects.filter(pk=grid.accounts["T1"][3].pk).update(closed_on=date(2025, 2, 1))
    ev = event(grid)
    OutageScope.objects.create(event=ev, transformer_area=grid.t1)
    assert freeze(ev, start=datetime(2025, 3, 1, 10, tzinfo=CN)) == 3
    Premise.objects.filter(pk=grid.accounts["T1"][0].premise_id).update(transformer_area=grid.t3)
    assert AffectedAccount.objects.filter(event=ev).count() == 3
    assert OutageArea.objects.get(event=ev).customers == 3


def test_a_finished_import_closes_each_area_at_its_own_end(grid):
    ev = event(grid)
    OutageScope.objects.create(event=ev, feeder=grid.f1)
    start = datetime(2025, 3, 1, 10, tzinfo=CN)
    freeze(
        ev,
        start=start,
        end=datetime(2025, 3, 1, 12, tzinfo=CN),
        area_ends={grid.t2.pk: datetime(2025, 3, 1, 11, tzinfo=CN)},
    )
    ev.refresh_from_db()
    assert ev.actual_end == datetime(2025, 3, 1, 12, tzinfo=CN)
    assert dict(Interruption.objects.filter(event=ev).values_list("customers", "duration_s")) == {
        4: 7200,
        3: 3600,
    }
