"""Billing runs (issue 10 §5): a month that has not ended cannot be billed, a run that issued nothing can be
deleted, the runs list shows each run's bills, kWh and amount, and the period is picked with a month picker.

"Today" is injected (`services.local_today`, or `today=` on the service), never the wall clock."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from gridcare.billing import services
from gridcare.billing.models import Bill, BillingException, BillingRun, BillingRunStatus, BillLine, BillStatus
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from tests.billing.test_runs import SYSTEM, at, client_for, post_json, read, start
from tests.factories import UserFactory

TODAY = date(2026, 12, 6)
NOT_ENDED = "尚未结束，不能开账"
MALFORMED = "账期格式应为 YYYY-MM"


@pytest.fixture
def a_billing(world):
    return UserFactory(username="a_billing", role=Role.BILLING_CLERK, unit=world.bureau_a)


@pytest.fixture
def b_billing(world):
    return UserFactory(username="b_billing", role=Role.BILLING_CLERK, unit=world.bureau_b)


@pytest.fixture
def today(monkeypatch):
    monkeypatch.setattr(services, "local_today", lambda: TODAY)
    return TODAY


def state():
    """What a refused request must leave unchanged."""
    return (
        BillingRun.objects.count(),
        Bill.objects.count(),
        BillLine.objects.count(),
        BillingException.objects.count(),
        AuditEvent.objects.count(),
        list(Bill.objects.order_by("pk").values_list("pk", "status")),
    )


# ---------------------------------------------------------------- a month that has not ended


@pytest.mark.parametrize(
    ("period", "today", "ok"),
    [
        ("2031-01", date(2026, 12, 6), False),  # years ahead
        ("2026-12", date(2026, 12, 6), False),  # the current month
        ("2026-12", date(2026, 12, 31), False),  # its last day: the month ends tonight
        ("2026-12", date(2027, 1, 1), True),  # New Year's Day: December has ended
        ("2026-11", date(2026, 12, 1), True),  # the 1st: last month has ended
        ("2026-11", date(2026, 11, 30), False),
        ("2028-02", date(2028, 2, 29), False),  # leap day: February not over yet
        ("2028-02", date(2028, 3, 1), True),
    ],
)
def test_service_refuses_a_month_that_has_not_ended(world, route, period, today, ok):
    if ok:
        run = services.billing_run_start(actor=SYSTEM, period=period, route=route, today=today)
        assert run.period == period
        return
    with pytest.raises(ValidationError) as exc:
        services.billing_run_start(actor=SYSTEM, period=period, route=route, today=today)
    assert exc.value.message_dict["period"][0].startswith(f"{period} {NOT_ENDED}")
    assert not BillingRun.objects.exists() and not AuditEvent.objects.exists()


def test_page_refuses_2031_01_and_says_why(world, route, a_billing, today):
    c = client_for(a_billing)
    before = state()
    resp = c.post("/billing/runs/", {"period": "2031-01", "route": route.pk})
    assert resp.status_code == 400
    body = resp.content.decode()
    assert "2031-01 尚未结束，不能开账" in body and 'data-testid="errors-period"' in body
    resp = c.post("/billing/runs/", {"period": "2026-12", "route": route.pk})  # the current month
    assert resp.status_code == 400 and "2026-12 尚未结束，不能开账" in resp.content.decode()
    assert state() == before


def test_api_refuses_a_month_that_has_not_ended(world, route, a_billing, today):
    c = client_for(a_billing)
    before = state()
    for period in ("2031-01", "2026-12"):
        resp = post_json(c, "/api/v1/billing/runs", {"period": period, "route_code": "R01"})
        assert resp.status_code == 422
        [error] = resp.json()["detail"]
        assert error["field"] == "period" and error["message"].startswith(f"{period} {NOT_ENDED}")
    assert state() == before


def test_cli_refuses_a_month_that_has_not_ended(world, route, today):
    before = state()
    with pytest.raises(CommandError, match=f"2031-01 {NOT_ENDED}"):
        call_command("billing", "run", "--period", "2031-01", "--route", "R01")
    with pytest.raises(CommandError, match=f"2026-12 {NOT_ENDED}"):
        call_command("billing", "run", "--period", "2026-12")
    # an injected today (the demo builders' clock) decides, not the machine's date
    with pytest.raises(CommandError, match=f"2026-11 {NOT_ENDED}"):
        call_command("billing", "run", "--period", "2026-11", "--today", "2026-11-30")
    assert state() == before
    with pytest.raises(CommandError, match="日期应为 YYYY-MM-DD：2026-13-01"):
        call_command("billing", "run", "--period", "2026-11", "--today", "2026-13-01")
    assert state() == before
    call_command("billing", "run", "--period", "2026-12", "--route", "R01", "--today", "2027-01-01")
    assert BillingRun.objects.get().period == "2026-12"


@pytest.mark.parametrize("period", ["2026-13", "2026-00", "abc", "2026-1", "2026/10", "2026-100", "9" * 500])
def test_malformed_period_is_a_clear_error_on_page_and_api(world, route, a_billing, today, period):
    c = client_for(a_billing)
    before = state()
    resp = c.post("/billing/runs/", {"period": period, "route": route.pk})
    assert resp.status_code == 400 and MALFORMED in resp.content.decode()
    resp = post_json(c, "/api/v1/billing/runs", {"period": period, "route_code": "R01"})
    assert resp.status_code == 422
    assert resp.json()["detail"] == [{"field": "period", "message": "账期格式应为 YYYY-MM，例如 2026-10"}]
    assert state() == before


@pytest.mark.parametrize("period", ["1999-01", "1999-12", "0001-01"])
def test_period_before_the_earliest_billable_month_says_so_on_page_api_and_cli(
    world, route, a_billing, today, period
):
    """A well-formed month before 2000-01 (core.validators.DATE_MIN) is refused as too early, not as malformed."""
    reason = f"{period} 早于系统可计费的最早账期 2000-01"
    c = client_for(a_billing)
    before = state()
    resp = c.post("/billing/runs/", {"period": period, "route": route.pk})
    page = resp.content.decode()
    assert resp.status_code == 400 and reason in page and MALFORMED not in page
    resp = post_json(c, "/api/v1/billing/runs", {"period": period, "route_code": "R01"})
    assert resp.status_code == 422
    assert resp.json()["detail"] == [{"field": "period", "message": reason}]
    with pytest.raises(CommandError, match=reason):
        call_command("billing", "run", "--period", period, "--route", "R01")
    assert state() == before


def test_page_without_period_asks_for_one(world, route, a_billing, today):
    resp = client_for(a_billing).post("/billing/runs/", {"period": "", "route": route.pk})
    assert resp.status_code == 400 and "请选择账期" in resp.content.decode()
    assert not BillingRun.objects.exists()


def test_period_is_picked_with_a_month_picker_up_to_last_month(world, route, a_billing, today):
    body = client_for(a_billing).get("/billing/runs/").content.decode()
    field = (
        body.split('name="period"')[0].rsplit("<input", 1)[1] + body.split('name="period"')[1].split(">")[0]
    )
    assert 'type="month"' in field
    assert 'max="2026-11"' in field  # today 2026-12-06: November is the last month that has ended


# ---------------------------------------------------------------- deleting a run that issued nothing


@pytest.fixture
def drafted(world, route):
    """A finished run of 2026-10 on R01: 3100000001 billed (150 kWh → a draft bill with one line), the
    three other accounts without reads (three exceptions)."""
    read(world.acct_a, at(2026, 10, 5), "150")
    run = services.billing_run_execute(start(route).pk)
    assert (Bill.objects.filter(run=run).count(), BillingException.objects.filter(run=run).count()) == (1, 3)
    return run


def test_page_deletes_a_run_that_issued_nothing_and_audits_it(world, route, a_billing, drafted, today):
    c = client_for(a_billing)
    body = c.get(f"/billing/runs/{drafted.pk}/").content.decode()
    assert f'action="/billing/runs/{drafted.pk}/delete/"' in body  # the button
    resp = c.post(f"/billing/runs/{drafted.pk}/delete/")
    assert resp.status_code == 302 and resp["Location"] == "/billing/runs/"
    assert not BillingRun.objects.exists() and not Bill.objects.exists() and not BillLine.objects.exists()
    assert not BillingException.objects.exists()
    event = AuditEvent.objects.get(action="billing_run.delete")
    assert (event.actor_id, event.object_id, event.unit_id) == (
        a_billing.pk,
        str(drafted.pk),
        world.station_a.pk,
    )
    assert event.changes == {
        "period": "2026-10",
        "route": "R01",
        "unit": world.station_a.code,
        "status": "done",
        "draft_bills_deleted": 1,
        "exceptions_deleted": 3,
    }
    assert "已删除计费批次 2026-10（草稿账单 1 张）" in c.get("/billing/runs/").content.decode()
    # the month can be billed again
    again = c.post("/billing/runs/", {"period": "2026-10", "route": route.pk})
    assert again.status_code == 302 and Bill.objects.get().amount == Decimal("80.70")  # 150 × 0.538


def test_a_run_with_an_issued_bill_cannot_be_deleted(world, route, a_billing, drafted, today):
    services.bills_issue(actor=SYSTEM, run=drafted)
    c = client_for(a_billing)
    assert f"/billing/runs/{drafted.pk}/delete/" not in c.get(f"/billing/runs/{drafted.pk}/").content.decode()
    before = state()
    resp = c.post(f"/billing/runs/{drafted.pk}/delete/", follow=True)
    assert "该批次已发行 1 张账单，不能删除" in resp.content.decode()
    api = c.delete(f"/api/v1/billing/runs/{drafted.pk}")
    assert api.status_code == 422
    [error] = api.json()["detail"]
    assert error["field"] == "run" and "该批次已发行 1 张账单，不能删除" in error["message"]
    with pytest.raises(CommandError, match="不能删除"):
        call_command("billing", "delete", str(drafted.pk))
    assert state() == before


def test_a_cancelled_bill_counts_as_issued(world, route, drafted, today):
    services.bills_issue(actor=SYSTEM, run=drafted)
    bill = Bill.objects.get()
    services.bill_cancel_rebill(actor=SYSTEM, bill=bill, reason="示数有误")  # a draft correction, same run
    before = state()
    with pytest.raises(ValidationError, match="不能删除"):
        services.billing_run_delete(actor=SYSTEM, run=drafted)
    assert state() == before


def test_a_running_run_cannot_be_deleted(world, route, drafted):
    BillingRun.objects.filter(pk=drafted.pk).update(status=BillingRunStatus.RUNNING)
    before = state()
    with pytest.raises(ValidationError, match="正在执行"):
        services.billing_run_delete(actor=SYSTEM, run=drafted)
    assert state() == before


def test_api_delete_permission_matrix(world, route, a_billing, b_billing, drafted, login):
    url = f"/api/v1/billing/runs/{drafted.pk}"
    before = state()
    assert login().delete(url).status_code == 401  # anonymous
    assert login(world.portal_user).delete(url).status_code == 403  # a customer
    assert login(world.a_agent).delete(url).status_code == 403  # staff without billing.run
    assert login(world.a_reader).delete(url).status_code == 403  # meter readers read, they do not bill
    assert login(b_billing).delete(url).status_code == 404  # a billing clerk of another bureau
    assert state() == before
    assert login(a_billing).delete(url).status_code == 204
    assert not BillingRun.objects.filter(pk=drafted.pk).exists() and not Bill.objects.exists()
    assert AuditEvent.objects.filter(action="billing_run.delete", channel="api").count() == 1
    assert login(a_billing).delete(url).status_code == 404  # gone


def test_page_delete_permission_matrix(world, route, a_billing, b_billing, drafted, login):
    url = f"/billing/runs/{drafted.pk}/delete/"
    before = state()
    anonymous = login().post(url)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    for user in (world.portal_user, world.a_agent, world.a_reader, b_billing):
        assert login(user).post(url).status_code == 404
    assert login(a_billing).get(url).status_code == 405  # a write is a POST
    assert state() == before


def test_cli_deletes_a_run(world, route, drafted, capsys):
    call_command("billing", "delete", str(drafted.pk))
    assert "已删除计费批次 2026-10（草稿账单 1 张）" in capsys.readouterr().out
    assert not BillingRun.objects.exists()
    assert AuditEvent.objects.get(action="billing_run.delete").changes["draft_bills_deleted"] == 1
    with pytest.raises(CommandError, match="没有编号为"):
        call_command("billing", "delete", str(drafted.pk))


# ---------------------------------------------------------------- the runs list shows totals


def _bill(run, account, kwh: str, amount: str, status=BillStatus.DRAFT):
    return Bill.objects.create(
        account=account,
        unit=account.unit,
        period_start=run.period_start,
        period_end=run.period_end,
        run=run,
        tariff_code="RES-TIER",
        kwh_total=Decimal(kwh),
        amount=Decimal(amount),
        status=status,
        created_at=timezone.now(),
    )


def test_runs_list_shows_bills_kwh_and_amount_per_run(world, route, a_billing, today):
    oct_run = start(route, "2026-10")
    sep_run = start(route, "2026-09")
    a1, a2, a3, _a4 = world.accts
    _bill(oct_run, a1, "2100.50", "1130.07")
    _bill(oct_run, a2, "150.50", "80.97")
    _bill(oct_run, a3, "99.00", "53.26", status=BillStatus.CANCELLED)  # cancelled: not counted
    _bill(sep_run, a1, "10.00", "5.38")
    body = client_for(a_billing).get("/billing/runs/").content.decode()
    # October: 2 bills, 2100.50 + 150.50 = 2251.00 kWh, 1130.07 + 80.97 = 1211.04 yuan
    assert f'data-testid="run-bills-{oct_run.pk}">2<' in body
    assert f'data-testid="run-kwh-{oct_run.pk}">2,251.00<' in body
    assert f'data-testid="run-amount-{oct_run.pk}">1,211.04<' in body
    # September: 1 bill, 10.00 kWh, 5.38 yuan
    assert f'data-testid="run-bills-{sep_run.pk}">1<' in body
    assert f'data-testid="run-amount-{sep_run.pk}">5.38<' in body
    # the page's totals: 3 bills, 2261.00 kWh, 1211.04 + 5.38 = 1216.42 yuan
    assert 'data-testid="total-bills">3<' in body
    assert 'data-testid="total-kwh">2,261.00<' in body
    assert 'data-testid="total-amount">1,216.42<' in body


def test_runs_list_totals_cost_one_query_for_any_number_of_runs(
    world, route, a_billing, today, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    c = client_for(a_billing)
    _bill(start(route, "2026-01"), world.acct_a, "1", "0.54")
    with CaptureQueriesContext(connection) as one:
        assert c.get("/billing/runs/").status_code == 200
    for m in range(2, 11):
        run = start(route, f"2026-{m:02d}")
        for acct in world.accts:
            _bill(run, acct, "1", "0.54")
    with django_assert_max_num_queries(len(one)):  # ten runs, 37 bills: not one query more than one run
        assert c.get("/billing/runs/").status_code == 200
