"""Selectors: the public outage page (by China day and area/feeder/unit name, no personal data), an account's
outages (restored ones only within 24 h of their own end), lists scoped by unit."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.http import Http404

from gridcare.core.audit import Actor
from gridcare.core.permissions import Role
from gridcare.outages import selectors
from gridcare.outages import services as s
from tests.factories import UserFactory

CN = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def who(grid):
    w = grid.world
    d = UserFactory(username="a_dispatch", role=Role.DISPATCHER, unit=w.bureau_a)
    return type("Who", (), {"draft": Actor(user=d), "approve": Actor(user=w.a_manager)})


def published(who, scope, start, hours, title):
    ev = s.outage_create(
        actor=who.draft,
        kind="planned",
        cause_category="maintenance",
        title=title,
        scope=scope,
        planned_start=start,
        planned_end=start + timedelta(hours=hours),
        now=start - timedelta(days=20),
    )
    s.outage_submit(actor=who.draft, event=ev, now=start - timedelta(days=20))
    s.outage_approve(actor=who.approve, event=ev, now=start - timedelta(days=20))
    return s.outage_publish(actor=who.approve, event=ev, now=start - timedelta(days=10))


def test_public_page_by_day_and_name_without_personal_data(grid, who):
    # 2025-04-01 22:00 → 04-02 06:00 China touches both days; the T3 one only 04-03
    night = published(who, [("feeder", "F1")], datetime(2025, 4, 1, 22, tzinfo=CN), 8, "夜间检修")
    published(who, [("area", "T3")], datetime(2025, 4, 3, 8, tzinfo=CN), 4, "T3检修")
    s.outage_create(  # a draft is never public
        actor=who.draft,
        kind="planned",
        cause_category="maintenance",
        title="草稿",
        scope=[("area", "T3")],
        planned_start=datetime(2025, 4, 2, 8, tzinfo=CN),
        planned_end=datetime(2025, 4, 2, 9, tzinfo=CN),
        now=datetime(2025, 3, 1, tzinfo=CN),
    )
    day2 = selectors.public_outages(day=date(2025, 4, 2))
    assert [e["number"] for e in day2] == [night.number]
    assert day2[0]["areas"] == ["东关1号台区", "东关2号台区"] and day2[0]["feeders"] == ["10kV东关一线"]
    assert [e["title"] for e in selectors.public_outages(day=date(2025, 4, 1))] == ["夜间检修"]
    assert [e["title"] for e in selectors.public_outages(day=date(2025, 4, 3))] == ["T3检修"]
    assert selectors.public_outages(day=date(2025, 4, 4)) == []
    # by area name, feeder name or code, unit name
    assert [e["title"] for e in selectors.public_outages(area_query="东关2号", day=date(2025, 4, 2))] == [
        "夜间检修"
    ]
    assert [e["title"] for e in selectors.public_outages(area_query="F1", day=date(2025, 4, 2))] == [
        "夜间检修"
    ]
    assert selectors.public_outages(area_query="东关二线", day=date(2025, 4, 2)) == []
    assert len(selectors.public_outages(area_query="东关供电所", day=date(2025, 4, 3))) == 1
    # nothing about customers: only these keys
    assert set(day2[0]) == {
        "number",
        "kind",
        "kind_label",
        "status",
        "status_label",
        "title",
        "planned_start",
        "planned_end",
        "actual_start",
        "areas",
        "feeders",
    }


def test_an_account_sees_restored_outages_for_24_hours_after_its_own_end(grid, who):
    out = datetime(2025, 5, 1, 8, tzinfo=CN)
    ev = s.outage_create(
        actor=who.draft,
        kind="fault",
        cause_category="tree",
        title="树障",
        scope=[("area", "T1")],
        planned_start=out,
        planned_end=out + timedelta(hours=4),
        now=out,
    )
    acct = grid.accounts["T1"][0]
    back = out + timedelta(hours=2)
    s.outage_restore(actor=who.draft, event=ev, at=back, now=back)
    [row] = selectors.outages_for_account(acct, now=back + timedelta(hours=24))
    assert (row["status"], row["restored_at"], row["est_restoration"]) == (
        "restored",
        back,
        out + timedelta(hours=4),
    )
    assert selectors.outages_for_account(acct, now=back + timedelta(hours=24, seconds=1)) == []
    assert selectors.outages_for_account(grid.accounts["T3"][0], now=back) == []


def test_get_and_list_are_scoped(grid, who):
    ev = s.outage_create(
        actor=who.draft,
        kind="planned",
        cause_category="maintenance",
        title="检修",
        scope=[("area", "T1")],
        planned_start=datetime(2025, 6, 1, 8, tzinfo=CN),
        planned_end=datetime(2025, 6, 1, 9, tzinfo=CN),
        now=datetime(2025, 5, 1, tzinfo=CN),
    )
    assert selectors.outage_get(grid.world.a_agent, ev.number) == ev
    with pytest.raises(Http404):
        selectors.outage_get(grid.world.b_clerk, ev.number)
    with pytest.raises(Http404):
        selectors.outage_get(grid.world.portal_user, ev.number)
    assert list(selectors.outage_list(grid.world.a_agent, unit_id=grid.world.bureau_a.pk)) == [ev]
    assert list(selectors.outage_list(grid.world.a_agent, unit_id=grid.world.bureau_b.pk)) == []
    assert list(selectors.outage_list(grid.world.b_clerk)) == []
    assert list(selectors.outage_list(grid.world.a_agent, start=date(2025, 6, 2))) == []
    assert list(selectors.outage_list(grid.world.a_agent, end=date(2025, 6, 1), status="draft")) == [ev]


def test_an_outage_running_past_its_estimate_stays_on_the_public_page_until_today(grid, who):
    out = datetime(2025, 7, 1, 20, tzinfo=CN)
    s.outage_create(
        actor=who.draft,
        kind="fault",
        cause_category="typhoon",
        title="台风",
        scope=[("area", "T3")],
        planned_start=out,
        planned_end=out + timedelta(hours=2),
        now=out,
    )
    today = datetime(2025, 7, 3, 9, tzinfo=CN)  # still out two days later
    assert [e["title"] for e in selectors.public_outages(day=date(2025, 7, 3), now=today)] == ["台风"]
    assert selectors.public_outages(day=date(2025, 7, 4), now=today) == []  # not a future day
    assert selectors.public_outages(day=date(2025, 6, 30), now=today) == []  # nor before it began
