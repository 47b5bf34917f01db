"""Prepaid accounts (预存 / 智能交费): the daily balance estimate and the low-balance alert, hand-computed.

张三's account 3100000001 prepays 1008.00 on 1 May 2026, then four bills are issued and paid from that
credit the moment they are issued:
    May  2026-05-01..05-31 (31 days) 500.00   ← the fourth-last bill: not in the daily cost
    Jun  2026-06-01..06-30 (30 days)  90.00
    Jul  2026-07-01..07-31 (31 days)  62.00
    Aug  2026-08-01..08-28 (28 days)  56.00
Ledger: +500 +90 +62 +56 −1008 = −300.00 → available 300.00.
Daily cost: (90 + 62 + 56) / (30 + 31 + 28) = 208.00 / 89 = 2.33707… → half-up to the fen → 2.34.
On 7 September, 10 days after the last period end (28 Aug): spend 2.34 × 10 = 23.40,
remaining 300.00 − 23.40 = 276.60, days left floor(276.60 / 2.34) = floor(118.2…) = 118.
"""

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from gridcare.billing.models import Bill, BillStatus
from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.scoping import PermissionDenied
from gridcare.customers.models import PortalBinding
from gridcare.payments.ledger.services import receivables_open
from gridcare.payments.models import PrepaidAccount, PrepaidAlert, PrepaidEstimate
from gridcare.payments.prepaid import services as prepaid
from tests.factories import CustomerFactory, make_account
from tests.payments.ledger.test_ledger import pay

D = Decimal
API = "/api/v1"
SYSTEM = Actor()


def bill(account, start: date, end: date, amount: str) -> Bill:
    """An issued bill for [start, end], issued five days after the period at 10:00 (Shanghai)."""
    issued = timezone.make_aware(datetime(end.year, end.month, end.day, 10)) + timezone.timedelta(days=5)  # noqa: DTZ001
    b = Bill.objects.create(
        account=account,
        unit=account.unit,
        period_start=start,
        period_end=end,
        tariff_code="RES-TIER",
        kwh_total=D(0),
        amount=D(amount),
        status=BillStatus.ISSUED,
        due_date=end + timezone.timedelta(days=20),
        issued_at=issued,
        created_at=issued,
    )
    receivables_open([b.pk], on=timezone.localdate(issued))  # credit pays it that day, before it is due
    return b


def four_bills(account):
    bill(account, date(2026, 5, 1), date(2026, 5, 31), "500.00")
    bill(account, date(2026, 6, 1), date(2026, 6, 30), "90.00")
    bill(account, date(2026, 7, 1), date(2026, 7, 31), "62.00")
    bill(account, date(2026, 8, 1), date(2026, 8, 28), "56.00")


@pytest.fixture
def prepaid_a(world):
    """3100000001 enrolled (threshold 50.00), 1008.00 prepaid, four bills paid from it: 300.00 credit."""
    pay("1008.00", date(2026, 5, 1), "PRE-1")
    four_bills(world.acct_a)
    return prepaid.prepaid_enrol(
        actor=Actor(user=world.a_clerk), account=world.acct_a, today=date(2026, 5, 1)
    )


def run(day: date):
    return prepaid.prepaid_estimate_run(today=day)


def est(p, day: date) -> PrepaidEstimate:
    return PrepaidEstimate.objects.get(prepaid=p, estimated_on=day)


# ---------------------------------------------------------------- the estimate


def test_estimate_by_hand(world, prepaid_a):
    result = run(date(2026, 9, 7))
    assert (result.estimated, result.alerts_raised) == (1, 0)
    e = est(prepaid_a, date(2026, 9, 7))
    assert (e.available, e.billed_amount, e.billed_days) == (D("300.00"), D("208.00"), 89)
    assert (e.daily_cost, e.last_billed_on, e.spend_since) == (D("2.34"), date(2026, 8, 28), D("23.40"))
    assert (e.remaining, e.days_left, e.is_low) == (D("276.60"), 118, False)
    prepaid_a.refresh_from_db()
    assert prepaid_a.last_estimate_id == e.pk and prepaid_a.alert_state == "armed"
    # The live estimate (API, portal) computes the very same figures without storing anything
    live = prepaid.prepaid_estimate_live(world.acct_a, today=date(2026, 9, 7))
    assert (live.remaining, live.daily_cost, live.days_left) == (D("276.60"), D("2.34"), 118)


def test_estimate_as_of_an_earlier_day_ignores_later_bills_and_payments(world, prepaid_a):
    # On 30 July the July bill (issued 5 Aug) is not in the ledger yet: credit 1008 − 500 − 90 = 418.00;
    # the rate uses May and June: (500 + 90) / (31 + 30) = 590 / 61 = 9.6721… → 9.67 a day; 30 days after
    # 30 June → 9.67 × 30 = 290.10 spent; remaining 418.00 − 290.10 = 127.90; floor(127.90 / 9.67) = 13.
    e = prepaid.prepaid_estimate_live(world.acct_a, today=date(2026, 7, 30))
    assert (e.available, e.daily_cost, e.spend_since, e.remaining, e.days_left) == (
        D("418.00"),
        D("9.67"),
        D("290.10"),
        D("127.90"),
        13,
    )


def test_account_with_open_debt(world):
    # Three bills (208.00) and one payment of 100.00 on 10 July, before June's bill fell due (20 July), so no
    # late fee is charged: 90.00 pays June, 10.00 part of July; 108.00 owed → available −108.00.
    bill(world.acct_a, date(2026, 6, 1), date(2026, 6, 30), "90.00")
    bill(world.acct_a, date(2026, 7, 1), date(2026, 7, 31), "62.00")
    bill(world.acct_a, date(2026, 8, 1), date(2026, 8, 28), "56.00")
    pay("100.00", date(2026, 7, 10), "P-1")
    p = prepaid.prepaid_enrol(actor=SYSTEM, account=world.acct_a)
    result = run(date(2026, 9, 7))
    e = est(p, date(2026, 9, 7))
    # −108.00 − 2.34 × 10 = −131.40; nothing remains → 0 days; below 50.00 → one alert
    assert (e.available, e.daily_cost, e.remaining, e.days_left, e.is_low) == (
        D("-108.00"),
        D("2.34"),
        D("-131.40"),
        0,
        True,
    )
    assert result.alerts_raised == 1


def test_no_bill_yet_fallback(world):
    pay("30.00", date(2026, 9, 1), "P-1")
    p = prepaid.prepaid_enrol(actor=SYSTEM, account=world.acct_a, threshold="20.00")
    run(date(2026, 9, 7))
    e = est(p, date(2026, 9, 7))
    # No bill: no daily cost, nothing counted as spent, remaining = the 30.00 credit, days left unknown
    assert (e.available, e.daily_cost, e.spend_since, e.remaining, e.days_left, e.is_low) == (
        D("30.00"),
        None,
        D("0.00"),
        D("30.00"),
        None,
        False,
    )


def test_cancelled_bill_does_not_count(world, prepaid_a):
    aug = Bill.objects.get(account=world.acct_a, period_start=date(2026, 8, 1))
    from gridcare.payments.ledger.services import receivable_cancel

    Bill.objects.filter(pk=aug.pk).update(status=BillStatus.CANCELLED)
    cancelled_at = timezone.make_aware(datetime(2026, 9, 3, 9))  # noqa: DTZ001
    receivable_cancel(bill_id=aug.pk, reason="抄表错误", cancelled_at=cancelled_at)
    # Without August: credit 300 + 56 = 356.00; rate (500 + 90 + 62) / (31 + 30 + 31) = 652 / 92 = 7.0869… → 7.09;
    # 38 days after 31 July to 7 Sep → 7.09 × 38 = 269.42; remaining 356.00 − 269.42 = 86.58; floor(86.58/7.09) = 12
    e = prepaid.prepaid_estimate_live(world.acct_a, today=date(2026, 9, 7))
    assert (e.available, e.daily_cost, e.spend_since, e.remaining, e.days_left) == (
        D("356.00"),
        D("7.09"),
        D("269.42"),
        D("86.58"),
        12,
    )


def test_days_threshold(world, prepaid_a):
    # 118 days left on 7 Sep; a days threshold of 120 makes it low although 276.60 ≥ 50.00
    prepaid.prepaid_enrol(actor=SYSTEM, account=world.acct_a, threshold="50.00", threshold_days=120)
    assert run(date(2026, 9, 7)).alerts_raised == 1
    assert est(prepaid_a, date(2026, 9, 7)).is_low


# ---------------------------------------------------------------- the alert


def test_alert_crosses_once_and_rearms_after_a_payment(
    world, prepaid_a, django_capture_on_commit_callbacks, monkeypatch
):
    calls = []
    monkeypatch.setattr(prepaid, "on_prepaid_low_balance", lambda ids: calls.append(ids))
    prepaid.prepaid_enrol(actor=SYSTEM, account=world.acct_a, threshold="280.00")
    # 5 Sep: 8 days → 300.00 − 18.72 = 281.28 ≥ 280.00: fine
    with django_capture_on_commit_callbacks(execute=True):
        assert run(date(2026, 9, 5)).alerts_raised == 0
    # 6 Sep: 9 days → 300.00 − 21.06 = 278.94 < 280.00: one alert, handed to the seam after the commit
    with django_capture_on_commit_callbacks(execute=True):
        first = run(date(2026, 9, 6))
    assert first.alerts_raised == 1 and calls == [first.alert_ids]
    alert = PrepaidAlert.objects.get()
    assert (alert.raised_on, alert.remaining, alert.days_left, alert.threshold) == (
        date(2026, 9, 6),
        D("278.94"),
        119,
        D("280.00"),
    )  # floor(278.94 / 2.34) = floor(119.2…) = 119
    # 7 Sep: still low (276.60): no second alert; re-running 6 Sep raises nothing either
    with django_capture_on_commit_callbacks(execute=True):
        assert run(date(2026, 9, 7)).alerts_raised == 0
        assert run(date(2026, 9, 6)).alerts_raised == 0
    assert len(calls) == 1 and PrepaidAlert.objects.count() == 1
    # A payment of 10.00 on 8 Sep: 310.00 − 2.34 × 11 = 310.00 − 25.74 = 284.26 ≥ 280.00 → re-armed
    pay("10.00", date(2026, 9, 8), "TOPUP-1")
    assert run(date(2026, 9, 8)).rearmed == 1
    prepaid_a.refresh_from_db()
    assert (prepaid_a.alert_state, prepaid_a.alert_changed_on) == ("armed", date(2026, 9, 8))
    # 10 Sep: 13 days → 310.00 − 30.42 = 279.58 < 280.00 → the second crossing raises a second alert
    assert run(date(2026, 9, 10)).alerts_raised == 1
    assert list(PrepaidAlert.objects.order_by("raised_on").values_list("raised_on", "remaining")) == [
        (date(2026, 9, 6), D("278.94")),
        (date(2026, 9, 10), D("279.58")),
    ]


def test_rerunning_a_day_replaces_its_estimates(world, prepaid_a):
    run(date(2026, 9, 7))
    first = est(prepaid_a, date(2026, 9, 7))
    pay("20.00", date(2026, 9, 7), "TOPUP-1")  # paid later the same day
    run(date(2026, 9, 7))
    assert PrepaidEstimate.objects.filter(prepaid=prepaid_a).count() == 1
    again = est(prepaid_a, date(2026, 9, 7))
    assert again.pk == first.pk and again.remaining == D("296.60")  # 276.60 + 20.00


def test_backfill_does_not_move_the_latest_estimate_or_the_alert(world, prepaid_a):
    prepaid.prepaid_enrol(actor=SYSTEM, account=world.acct_a, threshold="280.00")
    run(date(2026, 9, 7))  # low: 276.60 < 280.00
    latest = est(prepaid_a, date(2026, 9, 7))
    run(date(2026, 9, 3))  # 6 days → 300.00 − 14.04 = 285.96: not low, but an earlier day
    prepaid_a.refresh_from_db()
    assert prepaid_a.last_estimate_id == latest.pk and prepaid_a.alert_state == "low"
    assert est(prepaid_a, date(2026, 9, 3)).remaining == D("285.96")


def test_unenrolled_accounts_are_not_estimated(world, prepaid_a):
    prepaid.prepaid_unenrol(actor=SYSTEM, account=world.acct_a)
    assert run(date(2026, 9, 7)).estimated == 0


# ---------------------------------------------------------------- enrolment


def test_enrol_update_unenrol_audited(world):
    clerk = Actor(user=world.a_clerk)
    p = prepaid.prepaid_enrol(actor=clerk, account=world.acct_a, today=date(2026, 9, 1))
    assert (p.threshold, p.threshold_days, p.enrolled_on, p.alert_state) == (
        D("50.00"),
        None,
        date(2026, 9, 1),
        "armed",
    )
    prepaid.prepaid_enrol(actor=clerk, account=world.acct_a)  # the same again: nothing written
    prepaid.prepaid_enrol(actor=clerk, account=world.acct_a, threshold="80.00", threshold_days="7")
    prepaid.prepaid_unenrol(actor=clerk, account=world.acct_a, today=date(2026, 9, 20))
    prepaid.prepaid_unenrol(actor=clerk, account=world.acct_a)  # a retry: nothing written
    p.refresh_from_db()
    assert (p.threshold, p.threshold_days, p.unenrolled_on) == (D("80.00"), 7, date(2026, 9, 20))
    actions = list(
        AuditEvent.objects.filter(action__startswith="prepaid.")
        .order_by("id")
        .values_list("action", "actor__username")
    )
    assert actions == [
        ("prepaid.enrol", "a_clerk"),
        ("prepaid.update", "a_clerk"),
        ("prepaid.unenrol", "a_clerk"),
    ]
    again = prepaid.prepaid_enrol(actor=clerk, account=world.acct_a, today=date(2026, 10, 1))
    assert (again.pk, again.enrolled_on, again.unenrolled_on) == (p.pk, date(2026, 10, 1), None)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"threshold": "-1"}, "threshold"),
        ({"threshold": "abc"}, "threshold"),
        ({"threshold": "10.001"}, "threshold"),
        ({"threshold": "1e9"}, "threshold"),
        ({"threshold_days": "0"}, "threshold_days"),
        ({"threshold_days": "3.5"}, "threshold_days"),
        ({"threshold_days": "400"}, "threshold_days"),
    ],
)
def test_enrol_refusals(world, kw, field):
    with pytest.raises(ValidationError) as exc:
        prepaid.prepaid_enrol(actor=Actor(user=world.a_clerk), account=world.acct_a, **kw)
    assert field in exc.value.message_dict
    assert not PrepaidAccount.objects.exists()


def test_closed_account_and_never_enrolled(world):
    world.acct_a.status = "closed"
    world.acct_a.save()
    with pytest.raises(ValidationError) as exc:
        prepaid.prepaid_enrol(actor=SYSTEM, account=world.acct_a)
    assert "account_number" in exc.value.message_dict
    with pytest.raises(ValidationError):
        prepaid.prepaid_unenrol(actor=SYSTEM, account=world.acct_b)


def test_enrol_permissions(world):
    for user in (world.a_agent, world.b_clerk, world.a_manager):  # no customer.edit / other unit
        with pytest.raises(PermissionDenied):
            prepaid.prepaid_enrol(actor=Actor(user=user), account=world.acct_a)
    assert not PrepaidAccount.objects.exists()


# ---------------------------------------------------------------- API


@pytest.fixture
def bound(world, prepaid_a):
    PortalBinding.objects.create(user=world.portal_user, account=world.acct_a, created_at=timezone.now())
    return world.portal_user


def test_api_get_prepaid(world, prepaid_a, bound, login):
    for user in (world.a_clerk, bound):
        body = login(user).get(f"{API}/accounts/3100000001/prepaid?as_of=2026-09-07").json()
        assert (body["enrolled"], body["threshold"], body["alert_state"]) == (True, "50.00", "armed")
        e = body["estimate"]
        # The figures of the module docstring: 300.00 available, 2.34 a day, 10 days → 276.60, 118 days
        assert (e["available"], e["daily_cost"], e["spend_since"], e["remaining"], e["days_left"]) == (
            "300.00",
            "2.34",
            "23.40",
            "276.60",
            118,
        )
        assert (e["billed_amount"], e["billed_days"], e["last_billed_on"]) == ("208.00", 89, "2026-08-28")
    # Not enrolled: said so, no estimate
    other = login(world.b_clerk).get(f"{API}/accounts/3200000001/prepaid").json()
    assert other == {
        "account_number": "3200000001",
        "enrolled": False,
        "enrolled_on": None,
        "threshold": None,
        "threshold_days": None,
        "alert_state": None,
        "alert_changed_on": None,
        "estimate": None,
    }


def test_api_get_permission_matrix(world, prepaid_a, login):
    url = f"{API}/accounts/3100000001/prepaid"
    assert login().get(url).status_code == 401
    assert login(world.portal_user).get(url).status_code == 404  # a customer it is not bound to
    assert login(world.b_clerk).get(url).status_code == 404  # staff of another unit
    assert login(world.a_agent).get(url).status_code == 200  # customer.view is enough to read
    assert login(world.a_clerk).get(f"{API}/accounts/3999999999/prepaid").status_code == 404
    assert login(world.a_clerk).get(f"{url}?as_of=2026-02-30").status_code == 422


def test_api_put_and_delete(world, login):
    c = login(world.a_clerk)
    url = f"{API}/accounts/3100000001/prepaid"
    r = c.put(url, {"threshold": "80.00", "threshold_days": 5}, content_type="application/json")
    assert r.status_code == 200 and (
        r.json()["enrolled"],
        r.json()["threshold"],
        r.json()["threshold_days"],
    ) == (True, "80.00", 5)
    again = c.put(url, {"threshold": "80.00", "threshold_days": 5}, content_type="application/json")
    assert again.status_code == 200
    assert AuditEvent.objects.filter(action__startswith="prepaid.").count() == 1  # the repeat wrote nothing
    bad = c.put(url, {"threshold": "-5"}, content_type="application/json")
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "threshold"
    assert c.delete(url).status_code == 204
    assert c.delete(url).status_code == 204  # a retry
    assert c.get(url).json()["enrolled"] is False
    PrepaidAccount.objects.all().delete()
    refused = c.delete(url)  # never enrolled
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "account_number"


def test_api_write_permission_matrix(world, bound, login):
    url = f"{API}/accounts/3100000001/prepaid"
    p = PrepaidAccount.objects.get()
    before = (p.threshold, p.threshold_days, p.unenrolled_on)
    audits = AuditEvent.objects.count()
    body = {"threshold": "99.00"}
    assert login().put(url, body, content_type="application/json").status_code == 401
    assert login(bound).put(url, body, content_type="application/json").status_code == 404  # the customer
    assert login(world.a_agent).put(url, body, content_type="application/json").status_code == 404  # no edit
    assert (
        login(world.b_clerk).put(url, body, content_type="application/json").status_code == 404
    )  # other unit
    for user in (bound, world.a_agent, world.b_clerk):
        assert login(user).delete(url).status_code == 404
    assert login().delete(url).status_code == 401
    p.refresh_from_db()
    assert (p.threshold, p.threshold_days, p.unenrolled_on) == before and AuditEvent.objects.count() == audits
    assert login(world.a_clerk).put(url, body, content_type="application/json").status_code == 200


def test_api_list(world, prepaid_a, login):
    run(date(2026, 9, 7))
    body = login(world.a_clerk).get(f"{API}/prepaid-accounts?alert_state=armed&max_days=200").json()
    assert body["count"] == 1
    row = body["items"][0]
    assert (row["account_number"], row["estimated_on"], row["remaining"], row["days_left"]) == (
        "3100000001",
        "2026-09-07",
        "276.60",
        118,
    )
    assert login(world.a_clerk).get(f"{API}/prepaid-accounts?max_days=100").json()["count"] == 0  # 118 > 100
    assert login(world.a_clerk).get(f"{API}/prepaid-accounts?alert_state=low").json()["count"] == 0
    assert login(world.b_clerk).get(f"{API}/prepaid-accounts").json()["count"] == 0  # other unit
    assert login(world.portal_user).get(f"{API}/prepaid-accounts").status_code == 403
    assert login().get(f"{API}/prepaid-accounts").status_code == 401
    assert login(world.a_clerk).get(f"{API}/prepaid-accounts?alert_state=bogus").status_code == 422


# ---------------------------------------------------------------- pages


def test_list_page_and_filters(world, prepaid_a, login):
    prepaid.prepaid_enrol(actor=SYSTEM, account=world.acct_a, threshold="280.00")
    run(date(2026, 9, 7))
    page = login(world.a_clerk).get("/payments/prepaid/").content.decode()
    assert 'data-testid="prepaid-3100000001"' in page and "276.60" in page and "余额不足" in page
    assert "张*" in page and "张三" not in page  # masked name
    armed = login(world.a_clerk).get("/payments/prepaid/?alert_state=armed").content.decode()
    assert 'data-testid="prepaid-3100000001"' not in armed
    assert (
        login(world.a_clerk).get("/payments/prepaid/?max_days=abc").status_code == 200
    )  # bad filter: ignored
    assert (
        'data-testid="prepaid-3100000001"'
        not in login(world.b_clerk).get("/payments/prepaid/").content.decode()
    )
    assert login(world.portal_user).get("/payments/prepaid/").status_code == 404
    assert login().get("/payments/prepaid/").status_code == 302


def test_list_page_query_count(world, login, django_assert_max_num_queries):
    def enrol_more(n: int, start: int):
        for i in range(start, start + n):
            cust = CustomerFactory(unit=world.station_a)
            acct = make_account(cust, f"31000001{i:02d}", world.area_a)
            pay("100.00", date(2026, 9, 1), f"P-{i}", account_number=acct.account_number)
            bill(acct, date(2026, 8, 1), date(2026, 8, 31), "31.00")
            prepaid.prepaid_enrol(actor=SYSTEM, account=acct)
        run(date(2026, 9, 7))

    # session, user, the user's units (2), count, the page of rows with account/holder/unit/estimate, nav
    c = login(world.a_clerk)
    enrol_more(2, 0)
    with django_assert_max_num_queries(7):
        assert c.get("/payments/prepaid/").status_code == 200
    enrol_more(8, 2)
    with django_assert_max_num_queries(7):  # the same with five times the rows
        page = c.get("/payments/prepaid/").content.decode()
    # each: 100.00 − 31.00 = 69.00 credit; 31.00 / 31 days = 1.00 a day; 7 days → 62.00 left, 62 days
    assert page.count("62.00") >= 10


def test_enrol_from_the_page(world, login):
    c = login(world.a_clerk)
    r = c.post("/payments/prepaid/enrol/", {"account_number": "3100000001", "threshold": "60.00"})
    assert r.status_code == 302 and r["Location"] == "/payments/prepaid/3100000001/"
    assert PrepaidAccount.objects.get().threshold == D("60.00")
    bad = c.post("/payments/prepaid/enrol/", {"account_number": "3100000001", "threshold": "abc"})
    assert bad.status_code == 400 and "提醒阈值必须是金额数字" in bad.content.decode()
    detail = c.get("/payments/prepaid/3100000001/").content.decode()
    assert 'data-testid="estimate"' in detail and "60.00" in detail
    assert c.post("/payments/prepaid/3100000001/unenrol/").status_code == 302
    assert PrepaidAccount.objects.get().unenrolled_on is not None


def test_page_permission_matrix(world, login):
    body = {"account_number": "3100000001", "threshold": "60.00"}
    assert login().post("/payments/prepaid/enrol/", body).status_code == 302  # → login
    assert login(world.portal_user).post("/payments/prepaid/enrol/", body).status_code == 404
    assert login(world.a_agent).post("/payments/prepaid/enrol/", body).status_code == 404  # no customer.edit
    other = login(world.b_clerk).post("/payments/prepaid/enrol/", body)  # another unit's 户号
    assert other.status_code == 400 and "户号不存在" in other.content.decode()
    assert (
        not PrepaidAccount.objects.exists()
        and not AuditEvent.objects.filter(action__startswith="prepaid.").exists()
    )
    assert login(world.b_clerk).get("/payments/prepaid/3100000001/").status_code == 404
    assert login(world.a_agent).get("/payments/prepaid/3100000001/").status_code == 200
    prepaid.prepaid_enrol(actor=SYSTEM, account=world.acct_a)
    for user in (world.a_agent, world.b_clerk, world.portal_user):
        assert login(user).post("/payments/prepaid/3100000001/unenrol/").status_code == 404
    assert PrepaidAccount.objects.get().enrolled


def test_portal_shows_days_left(world, prepaid_a, bound, login, monkeypatch):
    from types import SimpleNamespace

    from gridcare.payments.templatetags import prepaid_portal

    monkeypatch.setattr(prepaid_portal, "timezone", SimpleNamespace(localdate=lambda: date(2026, 9, 7)))
    page = login(bound).get("/portal/accounts/3100000001/").content.decode()
    assert "预计可用 118 天" in page and "276.60" in page
    # Not enrolled: no block
    prepaid.prepaid_unenrol(actor=SYSTEM, account=world.acct_a)
    assert 'data-testid="prepaid"' not in login(bound).get("/portal/accounts/3100000001/").content.decode()


# ---------------------------------------------------------------- CLI


def test_cli(world, prepaid_a, capsys):
    call_command("prepaid_estimate", "--date", "2026-09-07")
    assert "estimated=1 alerts_raised=0 rearmed=0" in capsys.readouterr().out
    assert est(prepaid_a, date(2026, 9, 7)).remaining == D("276.60")
    with pytest.raises(CommandError):
        call_command("prepaid_estimate", "--date", "2026-13-01")
    assert AuditEvent.objects.filter(action="prepaid.estimate_run", channel="job").count() == 1


# ---------------------------------------------------------------- PostgreSQL: two runs at once


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent runs need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_raise_one_alert(world):
    import threading

    from django.db import connections, transaction

    with transaction.atomic():  # issuing locks the account, as the billing run does
        pay("1008.00", date(2026, 5, 1), "PRE-1")
        four_bills(world.acct_a)
    p = prepaid.prepaid_enrol(actor=SYSTEM, account=world.acct_a, threshold="280.00")
    barrier, errors = threading.Barrier(2), []

    def go():
        try:
            barrier.wait()
            run(date(2026, 9, 7))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert PrepaidAlert.objects.filter(prepaid=p).count() == 1
    assert PrepaidEstimate.objects.filter(prepaid=p).count() == 1


def test_api_put_with_an_idempotency_key_replays_and_refuses_a_reused_key(world, login):
    c = login(world.a_clerk)
    url = f"{API}/accounts/3100000001/prepaid"
    h = {"HTTP_IDEMPOTENCY_KEY": "pp-1"}
    first = c.put(url, {"threshold": "80.00"}, content_type="application/json", **h)
    again = c.put(url, {"threshold": "80.00"}, content_type="application/json", **h)
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    other = c.put(url, {"threshold": "90.00"}, content_type="application/json", **h)  # same key, other body
    assert other.status_code == 422
    assert PrepaidAccount.objects.get().threshold == D("80.00")


@pytest.mark.parametrize("raw", ["1E+2", "-1", "1.005", "abc"])
def test_threshold_takes_plain_amounts_only(raw):
    with pytest.raises(ValidationError) as exc:
        prepaid.clean_threshold(raw)
    assert "threshold" in exc.value.message_dict
    assert prepaid.clean_threshold("0") == D("0.00") and prepaid.clean_threshold("12.5") == D("12.50")
