"""Partial restoration: each customer's interruption has its own end. The issue's example (10 accounts out 08:00,
4 back 09:00, 6 back 11:00 → 22 customer-hours, counted once each for SAIFI), areas and whole events, the MV users
moving with their accounts, and the refusals (before the start, twice, not affected) that write nothing."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.notify.models import Notification
from gridcare.outages import services as s
from gridcare.outages.models import AffectedAccount, Interruption, OutageArea, OutageEvent
from tests.factories import AreaFactory, CustomerFactory, FeederFactory, UserFactory, make_account

CN = ZoneInfo("Asia/Shanghai")
OUT = datetime(2025, 8, 1, 8, tzinfo=CN)


@pytest.fixture
def dispatcher(grid):
    return Actor(user=UserFactory(username="a_dispatch", role=Role.DISPATCHER, unit=grid.world.bureau_a))


@pytest.fixture
def ten(grid):
    """Area T10 on its own feeder with 10 household accounts."""
    st = grid.world.station_a
    area = AreaFactory(code="T10", name="东关10号台区", feeder=FeederFactory(code="F10", unit=st), unit=st)
    return [make_account(CustomerFactory(unit=st), f"31000010{i:02d}", area) for i in range(10)]


def fault(actor, scope, start=OUT):
    return s.outage_create(
        actor=actor,
        kind="fault",
        cause_category="equipment",
        title="设备故障",
        scope=scope,
        planned_start=start,
        planned_end=start + timedelta(hours=4),
        now=start + timedelta(minutes=3),
    )


def groups(ev):
    return sorted(
        Interruption.objects.filter(event=ev).values_list("customers", "mv_users", "end", "duration_s"),
        key=lambda g: (g[2] is None, g[2] or OUT, -g[0]),
    )


def test_ten_out_four_back_at_nine_six_at_eleven_is_22_customer_hours(grid, dispatcher, ten):
    ev = fault(dispatcher, [("area", "T10")])
    first = [a.account_number for a in ten[:4]]
    s.outage_restore(
        actor=dispatcher,
        event=ev,
        at=OUT + timedelta(hours=1),
        account_numbers=first,
        now=OUT + timedelta(hours=1),
    )
    ev.refresh_from_db()
    assert ev.status == "in_progress" and OutageArea.objects.get(event=ev).actual_end is None
    s.outage_restore(
        actor=dispatcher,
        event=ev,
        at=OUT + timedelta(hours=3),
        area_codes=["T10"],
        now=OUT + timedelta(hours=3),
    )
    rows = groups(ev)
    # public transformer (1 MV user) stays with the group of the last public accounts
    assert rows == [(4, 0, OUT + timedelta(hours=1), 3600), (6, 1, OUT + timedelta(hours=3), 10800)]
    customer_hours = sum(c * d for c, _m, _e, d in rows) / 3600
    assert customer_hours == 4 * 1 + 6 * 3 == 22
    assert sum(c for c, *_ in rows) == 10  # SAIFI counts each customer once
    ev.refresh_from_db()
    assert ev.status == "restored" and ev.actual_end == OUT + timedelta(hours=3)
    assert OutageArea.objects.get(event=ev).actual_end == OUT + timedelta(hours=3)
    # every account told once that power is back, each with its own time
    told = Notification.objects.filter(kind="outage_restored")
    assert set(told.values_list("account_id", flat=True)) == {a.pk for a in ten}
    assert "09:00" in told.get(account=ten[0], channel="sms").body
    assert "11:00" in told.get(account=ten[9], channel="sms").body


def test_restoring_everything_ends_every_open_group(grid, dispatcher):
    ev = fault(dispatcher, [("feeder", "F1"), ("area", "T3")])
    s.outage_restore(
        actor=dispatcher,
        event=ev,
        at=OUT + timedelta(minutes=90),
        area_codes=["T3"],
        now=OUT + timedelta(hours=2),
    )
    s.outage_restore(actor=dispatcher, event=ev, at=OUT + timedelta(hours=2), now=OUT + timedelta(hours=2))
    ends = dict(OutageArea.objects.filter(event=ev).values_list("area_name", "actual_end"))
    assert ends == {
        "东关1号台区": OUT + timedelta(hours=2),
        "东关2号台区": OUT + timedelta(hours=2),
        "东关3号台区": OUT + timedelta(minutes=90),
    }
    ev.refresh_from_db()
    assert ev.status == "restored" and ev.actual_end == OUT + timedelta(hours=2)
    assert Notification.objects.filter(kind="outage_restored").values("account_id").distinct().count() == 9


def test_a_dedicated_account_carries_its_mv_user_and_the_public_one_moves_last(grid, dispatcher):
    ev = fault(dispatcher, [("area", "T2")])  # T2: the important 10 kV account + 2 households; MV = 1 + 1
    dedicated, h1, h2 = grid.accounts["T2"]
    step = OUT + timedelta(minutes=30)
    s.outage_restore(
        actor=dispatcher, event=ev, at=step, account_numbers=[dedicated.account_number], now=step
    )
    assert groups(ev) == [(1, 1, step, 1800), (2, 1, None, None)]
    s.outage_restore(
        actor=dispatcher,
        event=ev,
        at=OUT + timedelta(hours=1),
        account_numbers=[h1.account_number],
        now=OUT + timedelta(hours=2),
    )
    # one household back: the public transformer stays with the last one still out
    assert groups(ev)[1:] == [(1, 0, OUT + timedelta(hours=1), 3600), (1, 1, None, None)]
    s.outage_restore(
        actor=dispatcher,
        event=ev,
        at=OUT + timedelta(hours=2),
        account_numbers=[h2.account_number],
        now=OUT + timedelta(hours=2),
    )
    rows = groups(ev)
    assert sum(m for _c, m, _e, _d in rows) == 2 and all(e for _c, _m, e, _d in rows)
    assert OutageEvent.objects.get(pk=ev.pk).status == "restored"


def test_refusals_name_the_field_and_write_nothing(grid, dispatcher):
    ev = fault(dispatcher, [("area", "T1")])
    one = grid.accounts["T1"][0].account_number
    s.outage_restore(
        actor=dispatcher,
        event=ev,
        at=OUT + timedelta(hours=1),
        account_numbers=[one],
        now=OUT + timedelta(hours=1),
    )
    before = (
        groups(ev),
        AuditEvent.objects.count(),
        Notification.objects.count(),
        list(AffectedAccount.objects.filter(event=ev).values_list("account_id", "interruption_id")),
    )
    cases = [
        ({"at": OUT - timedelta(seconds=1)}, "at"),  # before the start
        ({"at": OUT + timedelta(hours=2), "account_numbers": [one]}, "accounts"),  # already restored
        (
            {"at": OUT + timedelta(hours=2), "account_numbers": [grid.accounts["T3"][0].account_number]},
            "accounts",
        ),
        ({"at": OUT + timedelta(hours=2), "area_codes": ["T3"]}, "areas"),  # not in this outage
        ({"at": OUT + timedelta(hours=9)}, "at"),  # in the future
        ({"at": OUT + timedelta(hours=2), "account_numbers": []}, "accounts"),  # empty is not "everyone"
        ({"at": OUT + timedelta(hours=2), "area_codes": []}, "areas"),
    ]
    for kwargs, field in cases:
        with pytest.raises(ValidationError) as err:
            s.outage_restore(actor=dispatcher, event=ev, now=OUT + timedelta(hours=2), **kwargs)
        assert field in err.value.message_dict, kwargs
    after = (
        groups(ev),
        AuditEvent.objects.count(),
        Notification.objects.count(),
        list(AffectedAccount.objects.filter(event=ev).values_list("account_id", "interruption_id")),
    )
    assert after == before


def test_an_event_not_in_progress_cannot_be_restored(grid, dispatcher):
    ev = s.outage_create(
        actor=dispatcher,
        kind="planned",
        cause_category="maintenance",
        title="检修",
        scope=[("area", "T1")],
        planned_start=OUT,
        planned_end=OUT + timedelta(hours=4),
        now=OUT - timedelta(days=10),
    )
    with pytest.raises(ValidationError) as err:
        s.outage_restore(actor=dispatcher, event=ev, at=OUT, now=OUT + timedelta(hours=1))
    assert "status" in err.value.message_dict
