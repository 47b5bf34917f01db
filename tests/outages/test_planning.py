"""Planning checks: the planned-outage budget (customer-hours used and remaining, actual for restored events,
estimates otherwise, drafts/rejected/cancelled not counted) with the issue's worked example, and the merge
candidates on the same feeder within ±30 days (一停多用)."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from gridcare.core.audit import Actor
from gridcare.core.permissions import Role
from gridcare.core.scoping import PermissionDenied
from gridcare.customers.models import Account
from gridcare.outages import selectors
from gridcare.outages import services as s
from gridcare.outages.models import PlannedBudget
from tests.factories import AreaFactory, CustomerFactory, FeederFactory, UserFactory, make_account

CN = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 1, 5, 9, tzinfo=CN)


@pytest.fixture
def who(grid):
    w = grid.world
    dispatcher = UserFactory(username="a_dispatch", role=Role.DISPATCHER, unit=w.bureau_a)
    return type("Who", (), {"draft": Actor(user=dispatcher), "approve": Actor(user=w.a_manager)})


@pytest.fixture
def t4(grid):
    """Feeder F4 with area T4 of 30 household accounts."""
    st = grid.world.station_a
    f4 = FeederFactory(code="F4", name="10kV东关四线", unit=st)
    area = AreaFactory(code="T4", name="东关4号台区", feeder=f4, unit=st)
    return [make_account(CustomerFactory(unit=st), f"31000004{i:02d}", area) for i in range(30)]


def create(who, scope, start, hours, *, kind="planned", title="检修"):
    return s.outage_create(
        actor=who.draft,
        kind=kind,
        cause_category="maintenance",
        title=title,
        scope=scope,
        planned_start=start,
        planned_end=start + timedelta(hours=hours),
        now=NOW,
    )


def to_approved(who, ev, **kw):
    s.outage_submit(actor=who.draft, event=ev, now=NOW)
    return s.outage_approve(actor=who.approve, event=ev, now=NOW, **kw)


@pytest.fixture
def used_900(grid, who):
    """Budget 1000 for station A1 in 2025; used 900 = one restored event of 600 actual + one approved
    estimate of 300."""
    st = grid.world.station_a
    s.planned_budget_set(actor=who.approve, unit=st, year=2025, customer_hours=Decimal("1000"))
    # T1: 4 customers, estimate 4 × 160 h = 640, but power came back after 150 h: actual 4 × 150 = 600
    start = datetime(2025, 3, 10, 8, tzinfo=CN)
    done = to_approved(who, create(who, [("area", "T1")], start, 160), budget_override_reason="")
    assert done.est_customer_hours == Decimal("640.00")
    s.outage_publish(actor=who.approve, event=done, now=start - timedelta(days=8))
    s.outage_start(actor=who.draft, event=done, at=start)
    s.outage_restore(
        actor=who.draft, event=done, at=start + timedelta(hours=150), now=start + timedelta(days=9)
    )
    # T2: 3 customers × 100 h = 300, approved
    est = to_approved(who, create(who, [("area", "T2")], datetime(2025, 4, 1, 8, tzinfo=CN), 100))
    assert est.est_customer_hours == Decimal("300.00")
    # not counted: a draft (T3, 2 × 10 = 20), a cancelled event, and an event of 2024
    create(who, [("area", "T3")], datetime(2025, 5, 1, 8, tzinfo=CN), 10)
    gone = create(who, [("area", "T3")], datetime(2025, 6, 1, 8, tzinfo=CN), 10)
    s.outage_cancel(actor=who.draft, event=gone, reason="取消", now=NOW)
    to_approved(who, create(who, [("area", "T3")], datetime(2024, 12, 31, 15, tzinfo=CN), 10))
    return st


def test_budget_status_counts_actual_for_restored_and_estimates_otherwise(used_900):
    assert selectors.budget_status(unit=used_900, year=2025) == {
        "unit_id": used_900.pk,
        "year": 2025,
        "budget": Decimal("1000.00"),
        "used": Decimal("900.00"),  # 600 + 300
        "remaining": Decimal("100.00"),  # 1000 − 900
    }
    # 2024-12-31 15:00 China is in 2024: 2 customers × 10 h
    assert selectors.budget_status(unit=used_900, year=2024)["used"] == Decimal("20.00")
    assert selectors.budget_status(unit=used_900, year=2024)["budget"] is None


def test_over_the_remaining_budget_needs_a_reason(used_900, who, t4):
    # 30 customers × 4 h = 120 > 100 remaining
    ev = create(who, [("area", "T4")], datetime(2025, 7, 1, 8, tzinfo=CN), 4)
    assert ev.est_customer_hours == Decimal("120.00")
    s.outage_submit(actor=who.draft, event=ev, now=NOW)
    with pytest.raises(ValidationError) as err:
        s.outage_approve(actor=who.approve, event=ev, now=NOW)
    assert "剩余 100.00" in err.value.message_dict["budget_override_reason"][0]
    ev.refresh_from_db()
    assert ev.status == "submitted"
    s.outage_approve(actor=who.approve, event=ev, budget_override_reason="迎峰度夏前必须完成", now=NOW)
    ev.refresh_from_db()
    assert (ev.status, ev.budget_override_reason) == ("approved", "迎峰度夏前必须完成")
    # now used 900 + 120 = 1020: remaining −20
    assert selectors.budget_status(unit=used_900, year=2025)["remaining"] == Decimal("-20.00")


def test_exactly_the_remaining_budget_needs_no_reason(used_900, who, t4):
    Account.objects.filter(pk__in=[a.pk for a in t4[:5]]).update(closed_on=date(2025, 1, 1))
    # 25 customers in service × 4 h = 100 = remaining 100: allowed
    ev = to_approved(who, create(who, [("area", "T4")], datetime(2025, 7, 1, 8, tzinfo=CN), 4))
    assert ev.est_customer_hours == Decimal("100.00") and ev.status == "approved"
    assert ev.budget_override_reason == ""


def test_a_bureau_budget_applies_to_its_stations_events(grid, who, t4):
    s.planned_budget_set(actor=who.approve, unit=grid.world.bureau_a, year=2025, customer_hours="50")
    ev = create(who, [("area", "T4")], datetime(2025, 7, 1, 8, tzinfo=CN), 2)  # 30 × 2 = 60 > 50
    s.outage_submit(actor=who.draft, event=ev, now=NOW)
    with pytest.raises(ValidationError) as err:
        s.outage_approve(actor=who.approve, event=ev, now=NOW)
    assert "budget_override_reason" in err.value.message_dict


def test_no_budget_row_means_no_check(grid, who, t4):
    ev = to_approved(who, create(who, [("area", "T4")], datetime(2025, 7, 1, 8, tzinfo=CN), 40))
    assert ev.status == "approved"
    status = selectors.budget_status(unit=grid.world.station_a, year=2025)
    assert (status["budget"], status["remaining"], status["used"]) == (
        None,
        None,
        Decimal("1200.00"),
    )  # 30 × 40


def test_budget_set_is_for_approvers_and_refuses_negatives(grid, who):
    st = grid.world.station_a
    with pytest.raises(PermissionDenied):
        s.planned_budget_set(actor=who.draft, unit=st, year=2025, customer_hours="10")
    with pytest.raises(ValidationError) as err:
        s.planned_budget_set(actor=who.approve, unit=st, year=2025, customer_hours="-1")
    assert "customer_hours" in err.value.message_dict
    with pytest.raises(PermissionDenied):  # bureau A's manager, station B's budget
        s.planned_budget_set(actor=who.approve, unit=grid.world.station_b, year=2025, customer_hours="10")
    assert not PlannedBudget.objects.exists()


def test_merge_candidates_same_feeder_within_30_days(grid, who):
    base = datetime(2025, 5, 1, 8, tzinfo=CN)
    ev = create(who, [("area", "T1")], base, 4, title="本次")  # T1 lies on F1
    plus30 = create(who, [("feeder", "F1")], base + timedelta(days=30), 4, title="+30天")  # |Δ| = 30 × 24 h
    minus30 = create(who, [("area", "T2")], base - timedelta(days=30), 4, kind="temporary", title="-30天")
    # (temporary: a planned one would duplicate the feeder-wide work it overlaps)
    create(who, [("area", "T2")], base + timedelta(days=30, seconds=1), 4, kind="temporary", title="+30天1秒")
    create(who, [("area", "T3")], base + timedelta(days=1), 4, title="F2")  # T3 lies on F2
    create(
        who, [("feeder", "F1")], base + timedelta(days=2), 4, kind="fault", title="故障"
    )  # not a planned work
    gone = create(who, [("area", "T2")], base + timedelta(days=3), 4, title="已取消")
    s.outage_cancel(actor=who.draft, event=gone, reason="取消", now=NOW)
    assert [e.title for e in selectors.merge_candidates(ev)] == ["-30天", "+30天"]
    # the other way round: the feeder-wide work sees the area work of the same feeder 30 days before
    assert "本次" in [e.title for e in selectors.merge_candidates(plus30)]
    assert ev in selectors.merge_candidates(minus30)


def test_merge_note_is_kept_on_approval(grid, who):
    ev = to_approved(
        who,
        create(who, [("area", "T1")], datetime(2025, 5, 1, 8, tzinfo=CN), 4),
        merge_note="与F1线路改造合并",
    )
    assert ev.merge_note == "与F1线路改造合并"
