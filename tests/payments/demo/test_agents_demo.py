"""The demo collection agents (`demo_agents.agents_part`, called by `demo_channels`), with "today" injected:
a year end, a new year's day, a leap day and the Monday after the Dragon Boat Festival (2026-06-19…21).

Bureau A (code 0101) has 7 accounts owing one bill each, so the collection point takes 4 payments and its
file adds a 5th debtor's, and the phone bank takes 2: the collection point's file shows one exception of
each kind (amount differs, ours only, reversed but paid, theirs only) and 4 rows (its 1st, 2nd and 4th
payments and the unknown one) with the 1st matched; the phone bank's file matches its 2 payments.
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from gridcare.core.permissions import Role
from gridcare.payments.demo.agents import agents_part
from gridcare.payments.demo.channels import Demo, _subtree
from gridcare.payments.models import CollectionAgent, Payment, ReconciliationException, StatementImport
from tests.factories import UserFactory, make_account
from tests.payments.ledger.test_ledger import issued_bill

BJ = ZoneInfo("Asia/Shanghai")


def demo(world, today: date) -> Demo:
    users = {
        name: UserFactory(username=name, role=role, unit=world.bureau_a)
        for name, role in (
            ("cashier", Role.CASHIER),
            ("billing", Role.BILLING_CLERK),
            ("manager", Role.MANAGER),
        )
    }
    accounts = [world.acct_a] + [make_account(world.cust_a, f"310000010{k}", world.area_a) for k in range(6)]
    for k, account in enumerate(accounts):
        issued_bill(
            account, "2025-01", f"{50 + k}.00", date(2099, 1, 20), issued_on=today - timedelta(days=60)
        )
    return Demo(
        seed=42,
        now=datetime.combine(today, time(10, 0), tzinfo=BJ),
        today=today,
        unit=world.bureau_a,
        unit_ids=_subtree(world.bureau_a),
        users=users,
    )


@pytest.mark.parametrize(
    "today", [date(2026, 12, 31), date(2027, 1, 1), date(2028, 2, 29), date(2026, 6, 22)]
)
def test_demo_agents_on_any_day(world, today):
    d = demo(world, today)
    agents_part(d)
    yesterday = today - timedelta(days=1)
    assert sorted(CollectionAgent.objects.values_list("code", "kind", "unit__code")) == [
        ("CP0101", "collection_point", "0101"),
        ("PB0101", "phone_bank", "0101"),
    ]
    paid = Payment.objects.filter(channel__in=["collection_point", "phone_bank"])
    assert sorted(paid.values_list("channel", "status")) == [
        ("collection_point", "posted"),
        ("collection_point", "posted"),
        ("collection_point", "posted"),
        ("collection_point", "reversed"),
        ("phone_bank", "posted"),
        ("phone_bank", "posted"),
    ]
    assert {timezone.localtime(p.paid_at, BJ).date() for p in paid} == {yesterday}
    cp = StatementImport.objects.get(agent__code="CP0101")
    assert (cp.statement_date, cp.row_count, cp.matched_count) == (yesterday, 4, 1)
    assert sorted(cp.exceptions.values_list("kind", flat=True)) == [
        "amount_differs",
        "ours_only",
        "reversed_paid",
        "theirs_only",
    ]
    assert cp.exceptions.get(kind="theirs_only").can_backfill
    pb = StatementImport.objects.get(agent__code="PB0101")
    assert (pb.statement_date, pb.row_count, pb.matched_count, pb.exceptions.count()) == (yesterday, 2, 2, 0)
    assert d.counts == {"agents": 2, "agent_payments": 6, "agent_exceptions": 4}
    # A second run writes nothing
    before = (
        Payment.objects.count(),
        StatementImport.objects.count(),
        ReconciliationException.objects.count(),
    )
    d.counts.clear()
    agents_part(d)
    assert d.skipped == ["agents"] and d.counts == {}
    assert (
        Payment.objects.count(),
        StatementImport.objects.count(),
        ReconciliationException.objects.count(),
    ) == before
