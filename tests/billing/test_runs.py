"""Billing runs: set-based, idempotent, resumable; bills, lines, exceptions, issue, cancel/rebill."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from gridcare.billing import runs, services
from gridcare.billing.models import (
    Bill,
    BillingException,
    BillingRun,
    BillingRunStatus,
    BillLine,
    BillStatus,
)
from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.customers.models import Meter
from gridcare.jobs.models import Job
from gridcare.metering.choices import ReadSource, ReadStatus
from gridcare.metering.models import MeterRead, Route, RouteMembership
from tests.factories import UserFactory

SYSTEM = Actor()


def at(y: int, m: int, d: int, h: int = 9) -> datetime:
    return timezone.make_aware(datetime(y, m, d, h))  # noqa: DTZ001


def read(account, when, kwh, *, source=ReadSource.MANUAL, status=ReadStatus.VALID):
    """A read with its consumption set directly (register values do not matter to billing)."""
    meter = Meter.objects.get(service_point__account=account)
    return MeterRead.objects.create(
        meter=meter,
        account=account,
        unit=account.unit,
        read_at=when,
        total=Decimal("1000") + Decimal(kwh),
        consumption=Decimal(kwh),
        source=source,
        status=status,
        created_at=timezone.now(),
    )


def start(route, period="2026-10"):
    return services.billing_run_start(actor=SYSTEM, period=period, route=route)


def bills_of(account):
    return Bill.objects.filter(account=account).order_by("id")


def test_run_bills_each_account_once_with_lines(world, route):
    a1, a2, a3, a4 = world.accts
    read(a1, at(2026, 10, 5), "150")  # 150 × 0.538 = 80.70
    read(a2, at(2026, 10, 5), "100")
    read(a2, at(2026, 10, 20), "50.5")  # two reads: 150.5 × 0.538 = 80.969 → 80.97
    read(a3, at(2026, 9, 30, 23), "999")  # September: not this period
    read(a4, at(2026, 10, 5), "10", source=ReadSource.ESTIMATED)  # 10 × 0.538 = 5.38, estimated
    run = services.billing_run_execute(start(route).pk)
    assert run.status == BillingRunStatus.DONE
    assert (run.total_count, run.processed_count, run.billed_count, run.exception_count) == (4, 4, 3, 1)
    b1 = Bill.objects.get(account=a1)
    assert (b1.amount, b1.kwh_total, b1.tariff_code, b1.status, b1.estimated) == (
        Decimal("80.70"),
        Decimal("150.00"),
        "RES-TIER",
        BillStatus.DRAFT,
        False,
    )
    assert (b1.period_start, b1.period_end) == (date(2026, 10, 1), date(2026, 10, 31))
    assert [(ln.seq, ln.code, ln.quantity, ln.unit_price, ln.amount) for ln in b1.lines.all()] == [
        (1, "energy", Decimal("150"), Decimal("0.538"), Decimal("80.70"))
    ]
    assert Bill.objects.get(account=a2).amount == Decimal("80.97")
    b4 = Bill.objects.get(account=a4)
    assert b4.estimated is True and b4.amount == Decimal("5.38")
    exc = BillingException.objects.get(run=run)
    assert exc.account == a3 and exc.reason == "no_read"
    assert AuditEvent.objects.filter(action="billing_run.start", object_id=str(run.pk)).count() == 1


def test_rerun_creates_nothing_new(world, route):
    for acct in world.accts:
        read(acct, at(2026, 10, 5), "100")
    run = start(route)
    services.billing_run_execute(run.pk)
    ids = list(Bill.objects.values_list("id", flat=True))
    again = start(route)
    assert again.pk == run.pk and BillingRun.objects.count() == 1
    run = services.billing_run_execute(again.pk)
    assert list(Bill.objects.values_list("id", flat=True)) == ids and BillLine.objects.count() == 4
    assert (run.status, run.processed_count, run.billed_count) == (BillingRunStatus.DONE, 4, 4)


def test_resume_after_crash_keeps_first_chunk_and_completes(world, route, monkeypatch):
    for acct in world.accts:
        read(acct, at(2026, 10, 5), "100")
    run = start(route)
    real_rate = runs.rate_prepared
    victim = world.accts[3]  # in the second chunk of 2 (accounts walked in id order)

    def crashing(plan, usage, **kw):
        if usage.total == Decimal("100") and crashing.calls >= 3:
            raise RuntimeError("power cut")
        crashing.calls += 1
        return real_rate(plan, usage, **kw)

    crashing.calls = 0
    monkeypatch.setattr(runs, "compile_prepared", lambda *a, **k: None)  # every bill via rate_prepared
    monkeypatch.setattr(runs, "rate_prepared", crashing)
    with pytest.raises(RuntimeError):
        services.billing_run_execute(run.pk, chunk_size=2)
    run.refresh_from_db()
    first_chunk = sorted(a.pk for a in world.accts)[:2]
    assert run.status == BillingRunStatus.FAILED and "power cut" in run.error
    assert run.last_account_id == first_chunk[-1] and run.processed_count == 2
    kept = list(Bill.objects.order_by("id").values_list("id", "account_id"))
    assert sorted(a for _i, a in kept) == first_chunk  # the crashed chunk left nothing behind
    assert not Bill.objects.filter(account=victim).exists()

    monkeypatch.setattr(runs, "rate_prepared", real_rate)
    run = services.billing_run_execute(run.pk, chunk_size=2)
    assert run.status == BillingRunStatus.DONE and (run.processed_count, run.billed_count) == (4, 4)
    assert list(Bill.objects.filter(id__in=[i for i, _a in kept]).values_list("id", "account_id")) == kept
    assert Bill.objects.count() == 4 and Bill.objects.values("account").distinct().count() == 4


def test_flagged_read_and_unknown_tariff_are_exceptions(world, route):
    a1, a2, a3, a4 = world.accts
    read(a1, at(2026, 10, 5), "100", status=ReadStatus.FLAGGED)
    read(a2, at(2026, 10, 5), "100")
    a2.service_points.update(tariff_code="NOPE")
    read(a3, at(2026, 10, 5), "100")
    a4.service_points.update(tariff_code="COM-TOU")
    read(a4, at(2026, 10, 5), "100")
    run = services.billing_run_execute(start(route).pk)
    reasons = dict(BillingException.objects.filter(run=run).values_list("account_id", "reason"))
    assert reasons == {a1.pk: "unvalidated_read", a2.pk: "unknown_tariff", a4.pk: "meter_data"}
    assert list(Bill.objects.values_list("account_id", flat=True)) == [a3.pk]
    # The reading exception is handled (accepted): a re-run bills it and clears its exception.
    MeterRead.objects.filter(account=a1).update(status=ReadStatus.ACCEPTED)
    run = services.billing_run_execute(run.pk)
    assert Bill.objects.filter(account=a1).exists()
    assert run.exception_count == 2 and not BillingException.objects.filter(account=a1).exists()


def test_issue_sets_due_date_and_calls_seam(world, route, monkeypatch, django_capture_on_commit_callbacks):
    read(world.acct_a, at(2026, 10, 5), "150")
    run = services.billing_run_execute(start(route).pk)
    seen = []
    monkeypatch.setattr(services, "on_bills_issued", lambda ids: seen.append(ids))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.bills_issue(actor=SYSTEM, run=run, now=at(2026, 11, 5, 10)) == 1
    bill = Bill.objects.get(account=world.acct_a)
    assert bill.status == BillStatus.ISSUED and bill.issued_at == at(2026, 11, 5, 10)
    assert bill.due_date == date(2026, 11, 20)  # issued 5 November + 15 days
    assert seen == [[bill.pk]]
    assert AuditEvent.objects.filter(action="bills.issue", changes__count=1).exists()


def test_cancel_rebill_keeps_both(world, route):
    read(world.acct_a, at(2026, 10, 5), "150")  # 80.70
    run = services.billing_run_execute(start(route).pk)
    old = Bill.objects.get(account=world.acct_a)
    MeterRead.objects.filter(account=world.acct_a).update(consumption=Decimal("100"))  # corrected read
    new = services.bill_cancel_rebill(actor=SYSTEM, bill=old, reason="抄表错误")
    old.refresh_from_db()
    assert old.status == BillStatus.CANCELLED and old.cancel_reason == "抄表错误"
    # 100 × 0.538 = 53.80
    assert (new.corrects_id, new.amount, new.status, new.run_id) == (
        old.pk,
        Decimal("53.80"),
        "draft",
        run.pk,
    )
    assert new.lines.count() == 1 and bills_of(world.acct_a).count() == 2
    assert AuditEvent.objects.filter(action="bill.cancel_rebill", object_id=str(new.pk)).exists()
    # A later run does not bill the account again.
    services.billing_run_execute(run.pk)
    assert bills_of(world.acct_a).count() == 2


def test_unique_constraint_blocks_second_live_bill(world, route):
    read(world.acct_a, at(2026, 10, 5), "150")
    services.billing_run_execute(start(route).pk)
    old = Bill.objects.get(account=world.acct_a)
    old.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        old.save()
    old.status = BillStatus.CANCELLED
    old.save()  # a cancelled one may sit beside it
    assert bills_of(world.acct_a).count() == 2


def test_ytd_tier_crossing_across_two_runs(world, route):
    a = world.acct_a
    read(a, at(2026, 3, 5), "2700")  # March: 2700 × 0.538 = 1452.60, all in tier 1
    services.billing_run_execute(start(route, "2026-03").pk)
    assert Bill.objects.get(account=a, period_start=date(2026, 3, 1)).amount == Decimal("1452.60")
    read(a, at(2026, 4, 5), "200")
    services.billing_run_execute(start(route, "2026-04").pk)
    # YTD 2700: 60 kWh left in tier 1, 140 in tier 2 → 200 × 0.538 = 107.60 + 140 × 0.05 = 7.00 → 114.60
    bill = Bill.objects.get(account=a, period_start=date(2026, 4, 1))
    assert bill.ytd_kwh_before == Decimal("2700") and bill.amount == Decimal("114.60")
    assert [(ln.code, ln.quantity) for ln in bill.lines.all()] == [
        ("energy", Decimal("200")),
        ("tier2", Decimal("140")),
    ]


def test_unit_run_covers_all_routes_of_the_unit(world, route):
    r2 = Route.objects.create(
        code="R02", name="西关", unit=world.station_b, reading_day=5, created_at=timezone.now()
    )
    RouteMembership.objects.create(account=world.acct_b, route=r2, sequence=1)
    read(world.acct_a, at(2026, 10, 5), "150")
    read(world.acct_b, at(2026, 10, 5), "150")
    run = services.billing_run_start(actor=SYSTEM, period="2026-10", unit=world.bureau_a)
    run = services.billing_run_execute(run.pk)
    assert run.total_count == 4 and list(Bill.objects.values_list("account_id", flat=True)) == [
        world.acct_a.pk
    ]


# ---------------------------------------------------------------- CLI


def test_cli_runs_and_issues(world, route, capsys):
    read(world.acct_a, at(2026, 10, 5), "150")
    call_command("billing", "run", "--period", "2026-10", "--route", "R01", "--issue")
    out = capsys.readouterr().out
    assert "100%" in out and "出账 1" in out and "异常 3" in out
    assert Bill.objects.get(account=world.acct_a).status == BillStatus.ISSUED


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--period", "2026-13"], "YYYY-MM"), (["--period", "2026-10", "--route", "NOPE"], "NOPE")],
)
def test_cli_refuses_bad_input(world, route, args, message):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=message):
        call_command("billing", "run", *args)
    assert not BillingRun.objects.exists()


# ---------------------------------------------------------------- pages and API


def client_for(user=None) -> Client:
    c = Client()
    if user is not None:
        c.force_login(user)
    return c


@pytest.fixture
def b_billing(world):
    return UserFactory(username="b_billing", role=Role.BILLING_CLERK, unit=world.bureau_b)


@pytest.fixture
def a_billing(world):
    return UserFactory(username="a_billing", role=Role.BILLING_CLERK, unit=world.bureau_a)


def test_pages_start_progress_and_issue(world, route, a_billing):
    read(world.acct_a, at(2026, 10, 5), "150")
    c = client_for(a_billing)
    assert c.get("/billing/runs/").status_code == 200
    resp = c.post("/billing/runs/", {"period": "2026-10", "route": route.pk})
    run = BillingRun.objects.get()
    assert resp.status_code == 302 and resp["Location"] == f"/billing/runs/{run.pk}/"
    body = c.get(f"/billing/runs/{run.pk}/").content.decode()
    assert 'data-testid="run-billed">1<' in body and "3100000002" in body  # an exception row
    assert 'hx-trigger="every 1s"' not in body  # done: no polling
    BillingRun.objects.filter(pk=run.pk).update(status=BillingRunStatus.RUNNING)
    frag = c.get(f"/billing/runs/{run.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in frag and "<html" not in frag
    BillingRun.objects.filter(pk=run.pk).update(status=BillingRunStatus.DONE)
    issue_url = f"/billing/runs/{run.pk}/issue/"
    assert f'action="{issue_url}"' in c.get(f"/billing/runs/{run.pk}/").content.decode()  # drafts: the button
    assert c.post(issue_url).status_code == 302
    assert Bill.objects.get().status == BillStatus.ISSUED
    assert (
        f'action="{issue_url}"' not in c.get(f"/billing/runs/{run.pk}/").content.decode()
    )  # all issued: gone


def test_page_bad_period_shows_error(world, route, a_billing):
    resp = client_for(a_billing).post("/billing/runs/", {"period": "2026/10", "route": route.pk})
    assert resp.status_code == 400 and "YYYY-MM" in resp.content.decode() and not BillingRun.objects.exists()


def test_pages_refused(world, route, b_billing):
    run = start(route)
    assert Client().get("/billing/runs/").status_code == 302
    for user in (world.a_agent, world.portal_user, world.a_reader):  # a meter reader reads meters, not bills
        c = client_for(user)
        assert c.get("/billing/runs/").status_code == 404
        assert c.get(f"/billing/runs/{run.pk}/").status_code == 404
        assert c.post(f"/billing/runs/{run.pk}/issue/").status_code == 404
    c = client_for(b_billing)
    assert c.get(f"/billing/runs/{run.pk}/").status_code == 404
    assert c.post(f"/billing/runs/{run.pk}/issue/").status_code == 404
    assert "R01" not in c.get("/billing/runs/").content.decode()
    # another unit's route is not a choice: the form answers 400 and nothing is started
    assert c.post("/billing/runs/", {"period": "2026-11", "route": route.pk}).status_code == 400
    assert BillingRun.objects.count() == 1


def post_json(c, path, body):
    return c.post(path, data=body, content_type="application/json")


def test_api_start_get_and_bills(world, route, a_billing):
    read(world.acct_a, at(2026, 10, 5), "150")
    c = client_for(a_billing)
    resp = post_json(c, "/api/v1/billing/runs", {"period": "2026-10", "route_code": "R01"})
    assert resp.status_code == 202, resp.content  # queued as a job (run in-process by the test settings)
    data = resp.json()
    job = Job.objects.get(pk=data["job_id"])
    # One chunk of 4 accounts: the job's progress is the run's chunks
    assert (job.kind, job.state, job.done, job.total) == ("billing.run", "succeeded", 1, 1)
    assert job.result == {
        "run_id": data["id"],
        "status": "done",
        "total": 4,
        "processed": 4,
        "billed": 1,
        "exceptions": 3,
        "skipped": 0,
    }
    assert (data["status"], data["billed_count"], data["exception_count"], data["route_code"]) == (
        "done",
        1,
        3,
        "R01",
    )
    assert c.get(f"/api/v1/billing/runs/{data['id']}").json()["processed_count"] == 4
    bills = c.get("/api/v1/billing/bills", {"account_number": "3100000001"}).json()
    assert [(b["amount"], b["status"], b["lines"][0]["amount"]) for b in bills] == [
        ("80.70", "draft", "80.70")
    ]
    again = post_json(c, "/api/v1/billing/runs", {"period": "2026-10", "route_code": "R01"})
    assert again.json()["id"] == data["id"] and Bill.objects.count() == 1
    assert again.json()["job_id"] != data["job_id"]  # a new job continues the same run
    bad = post_json(c, "/api/v1/billing/runs", {"period": "10-2026", "route_code": "R01"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "period"


def test_api_refused(world, route, b_billing):
    run = start(route)
    read(world.acct_a, at(2026, 10, 5), "150")
    services.billing_run_execute(run.pk)
    assert (
        post_json(Client(), "/api/v1/billing/runs", {"period": "2026-10", "route_code": "R01"}).status_code
        == 401
    )
    agent = client_for(world.a_agent)
    assert (
        post_json(agent, "/api/v1/billing/runs", {"period": "2026-11", "route_code": "R01"}).status_code
        == 403
    )
    assert agent.get(f"/api/v1/billing/runs/{run.pk}").status_code == 404
    b = client_for(b_billing)
    assert b.get(f"/api/v1/billing/runs/{run.pk}").status_code == 404
    assert post_json(b, "/api/v1/billing/runs", {"period": "2026-11", "route_code": "R01"}).status_code == 404
    assert b.get("/api/v1/billing/bills", {"account_number": "3100000001"}).json() == []
    assert (
        client_for(world.portal_user)
        .get("/api/v1/billing/bills", {"account_number": "3100000001"})
        .status_code
        == 403
    )
    assert BillingRun.objects.count() == 1
