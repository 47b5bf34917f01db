"""Risk measures by grade (issue 17 §4): what `credit.measures` answers, and the services that use them —
collections (C: the disconnection notice `dunning_advance_days` earlier, never before the overdue notice) and
95598 work orders (AAA/AA: priority service). Days are worked out by hand in each test."""

from datetime import date, datetime

import pytest
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.models import AuditEvent
from gridcare.credit import measures
from gridcare.credit.policy import current_policy
from gridcare.customers.choices import CustomerClass, Segment
from gridcare.payments.collections.services import collections_run
from gridcare.payments.models import DunningNotice
from gridcare.service import services as orders
from tests.factories import CustomerFactory, make_account
from tests.payments.ledger.test_ledger import issued_bill

from .reports_helpers import make_standing

JOB = Actor()


def at(day: date, hour: int = 10) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))  # noqa: DTZ001


def run(day: date) -> dict[str, int]:
    return collections_run(today=day, actor=JOB, now=at(day))


# ---------------------------------------------------------------- measures.py


def test_measures_follow_the_standing_and_the_policy(cw):
    w = cw
    make_standing(w.cust_a, "AA")
    make_standing(w.power_a, "D")
    make_standing(w.cust_b, "B")
    assert measures.customer_measures(w.cust_a.pk) == ["deposit_waived", "priority_service"]
    assert measures.customer_measures(w.power_a.pk) == ["deposit_or_prepaid", "connection_flag"]
    assert measures.customer_measures(w.cust_b.pk) == []
    extra = CustomerFactory(unit=w.station_a)  # never rated: no measures
    assert measures.customer_measures(extra.pk) == []
    got = measures.measures_by_customer([w.cust_a.pk, w.power_a.pk, w.cust_b.pk, extra.pk])
    assert got == {
        w.cust_a.pk: ["deposit_waived", "priority_service"],
        w.power_a.pk: ["deposit_or_prepaid", "connection_flag"],
        w.cust_b.pk: [],
        extra.pk: [],
    }
    assert measures.measures_by_customer([]) == {}
    # The policy decides: B gets dunning_earlier, AA loses priority service.
    p = current_policy()
    p.measures = {**p.measures, "B": ["dunning_earlier"], "AA": ["deposit_waived"]}
    p.save()
    assert measures.customer_measures(w.cust_b.pk) == ["dunning_earlier"]
    assert measures.customer_measures(w.cust_a.pk) == ["deposit_waived"]
    assert measures.customers_with("dunning_earlier", [w.cust_a.pk, w.cust_b.pk]) == {w.cust_b.pk}


def test_measures_by_customer_is_two_queries(cw, django_assert_num_queries):
    ids = [c.pk for c in CustomerFactory.create_batch(5, unit=cw.station_a)]
    for pk in ids[:3]:
        make_standing(type(cw.cust_a).objects.get(pk=pk), "C")
    current_policy()
    with django_assert_num_queries(2):  # the policy row and the standings
        got = measures.measures_by_customer(ids)
    assert [got[i] for i in ids] == [["split_settlement", "dunning_earlier"]] * 3 + [[], []]


def test_disconnect_notice_days_rule():
    # 30 − 15 = 15; never before the overdue-notice day (1); never later than the standard day.
    assert measures.disconnect_notice_days(disconnect_after_days=30, overdue_days_after=1, advance=15) == 15
    assert measures.disconnect_notice_days(disconnect_after_days=30, overdue_days_after=1, advance=40) == 1
    assert measures.disconnect_notice_days(disconnect_after_days=30, overdue_days_after=20, advance=15) == 20
    assert measures.disconnect_notice_days(disconnect_after_days=30, overdue_days_after=1, advance=0) == 30
    assert measures.disconnect_notice_days(disconnect_after_days=5, overdue_days_after=10, advance=3) == 5


def test_deposit_capacity_and_settlement_decisions(cw):
    from gridcare.payments.prepaid.models import PrepaidAccount

    w = cw
    make_standing(w.cust_a, "AAA")
    make_standing(w.power_a, "D")
    make_standing(w.cust_b, "C")
    assert measures.deposit_decision(w.cust_a.pk) == "waived"
    assert measures.deposit_decision(w.power_a.pk) == "required"
    assert measures.deposit_decision(w.cust_b.pk) == "standard"
    check = measures.capacity_request_check(w.power_a.pk)
    assert (check.flagged, check.requires_deposit_or_prepaid, check.prepaid_in_place, check.may_proceed) == (
        True,
        True,
        False,
        False,
    )
    assert measures.capacity_request_check(w.power_a.pk, deposit_paid=True).may_proceed is True
    now = timezone.now()
    PrepaidAccount.objects.create(
        account=w.power_acct, enrolled_on=date(2026, 11, 1), created_at=now, updated_at=now
    )
    assert measures.capacity_request_check(w.power_a.pk).may_proceed is True
    ok = measures.capacity_request_check(w.cust_a.pk)
    assert (ok.flagged, ok.requires_deposit_or_prepaid, ok.may_proceed) == (False, False, True)
    assert measures.settlement_suggestion(w.cust_b.pk) is True
    assert measures.settlement_suggestion(w.power_a.pk) is False
    assert measures.priority_service(w.cust_a.pk) is True and measures.priority_service(None) is False


# ---------------------------------------------------------------- collections: C dunned one step earlier


@pytest.fixture
def two_shops(cw):
    """power_a graded C and a second commercial customer graded B, each with the same bill: 100.00 due
    2026-09-20."""
    w = cw
    other = CustomerFactory(
        name="东关商店", unit=w.station_a, customer_class=CustomerClass.COMMERCIAL, segment=Segment.SME
    )
    w.b_acct = make_account(other, "3100000003", w.area_a, address="东关镇商业街3号")
    make_standing(w.power_a, "C")
    make_standing(other, "B")
    for acct in (w.power_acct, w.b_acct):
        issued_bill(acct, "2026-08", "100.00", date(2026, 9, 20))
    return w


def _disconnect(acct):
    return list(DunningNotice.objects.filter(account=acct, stage="disconnect"))


def test_c_customer_gets_the_disconnection_notice_15_days_earlier(two_shops):
    w = two_shops
    # Overdue notices the day after the due date (21 Sep) for both.
    assert run(date(2026, 9, 21))["overdue_notices"] == 2
    # C: 30 − 15 = 15 days past due → 20 Sep + 15 = 5 October; 14 days (4 Oct) is too early.
    assert run(date(2026, 10, 4))["disconnect_notices"] == 0
    assert run(date(2026, 10, 5))["disconnect_notices"] == 1
    (notice,) = _disconnect(w.power_acct)
    # A non-residential customer's disconnection is planned 3 days after the notice: 8 October.
    assert (notice.notice_date, notice.planned_disconnect_on) == (date(2026, 10, 5), date(2026, 10, 8))
    assert _disconnect(w.b_acct) == []
    # B: the standard 30 days → 20 October; 19 October nothing yet.
    assert run(date(2026, 10, 19))["disconnect_notices"] == 0
    assert run(date(2026, 10, 20))["disconnect_notices"] == 1
    (b_notice,) = _disconnect(w.b_acct)
    assert b_notice.notice_date == date(2026, 10, 20)


def test_advance_never_before_the_overdue_notice_day(two_shops):
    w = two_shops
    p = current_policy()
    p.dunning_advance_days = 40  # 30 − 40 < 1: the notice comes with the overdue notice, the day after due
    p.save()
    assert run(date(2026, 9, 20))["disconnect_notices"] == 0  # the due date itself: not overdue yet
    counts = run(date(2026, 9, 21))
    assert (counts["overdue_notices"], counts["disconnect_notices"]) == (2, 1)
    assert [n.notice_date for n in _disconnect(w.power_acct)] == [date(2026, 9, 21)]


def test_without_the_measure_the_c_customer_waits_the_standard_days(two_shops):
    w = two_shops
    p = current_policy()
    p.measures = {**p.measures, "C": ["split_settlement"]}
    p.save()
    assert run(date(2026, 10, 5))["disconnect_notices"] == 0
    assert run(date(2026, 10, 20))["disconnect_notices"] == 2
    assert [n.notice_date for n in _disconnect(w.power_acct)] == [date(2026, 10, 20)]


def test_a_c_customer_below_the_minimum_arrears_gets_no_early_notice(two_shops):
    w = two_shops
    issued_bill(w.cust_a.accounts.first(), "2026-08", "20.00", date(2026, 9, 20))
    make_standing(w.cust_a, "C")
    # cust_a (residential, C) owes 20.00 < 50.00: no notice on the early day; power_a's is there.
    assert run(date(2026, 10, 5))["disconnect_notices"] == 1
    assert DunningNotice.objects.filter(account__customer=w.cust_a, stage="disconnect").count() == 0


# ---------------------------------------------------------------- 95598: AAA/AA priority service


def _create(user, account_number, **kw):
    return orders.work_order_create(
        actor=Actor(user=user, channel=Channel.CONSOLE),
        order_type="consultation",
        channel="phone",
        account_number=account_number,
        now=at(date(2026, 9, 24)),
        **kw,
    ).order


def test_aa_customer_orders_come_in_urgent(cw):
    w = cw
    make_standing(w.power_a, "AA")
    make_standing(w.cust_a, "B")
    order = _create(w.a_agent, "3100000002")
    assert order.priority == 2  # 紧急
    ev = order.events.get(action="create")
    assert "优先服务" in ev.note
    audit = AuditEvent.objects.get(action="workorder.create", object_id=str(order.pk))
    assert audit.changes["priority"] == [1, 2]
    # A B customer: as asked (一般).
    plain = _create(w.a_agent, "3100000001")
    assert (
        plain.priority == 1
        and "priority"
        not in AuditEvent.objects.get(action="workorder.create", object_id=str(plain.pk)).changes
    )
    # Asked 特急: stays 特急.
    assert _create(w.a_agent, "3100000002", priority=3).priority == 3


def test_unrated_customer_order_is_as_asked(cw):
    assert _create(cw.a_agent, "3100000001").priority == 1
