"""Billing runs on the job engine: the run's plan is chunks (`BillingRunChunk`), one task each; the run's
progress is the chunks done, counted in the run row; the chunk that completes the plan ends the run and its
job. Chunks may finish in any order and be delivered twice; a failed chunk fails the run and its job, the
chunks still queued of that execution write nothing, and executing the run again continues from the
checkpoint. Jobs run in-process here (the test settings); tests/browser/test_billing_run_worker.py runs them
on a real worker."""

import importlib
from decimal import Decimal

import pytest
from django.apps import apps

from gridcare.billing import leases, runs, services, tasks
from gridcare.billing.models import (
    Bill,
    BillingException,
    BillingRun,
    BillingRunChunk,
    BillingRunLease,
    BillingRunStatus,
    BillLine,
    Tariff,
)
from gridcare.core.audit import Actor
from gridcare.core.permissions import Role
from gridcare.jobs.choices import JobState
from gridcare.jobs.models import Job
from gridcare.jobs.services import BrokerUnavailable
from tests.billing.test_runs import at, client_for, read, start
from tests.brokers import broker_at
from tests.factories import CustomerFactory, UserFactory, make_account

SYSTEM = Actor()
TODAY = __import__("datetime").date(2026, 12, 6)


@pytest.fixture
def many(world, route):
    """The route's 4 accounts plus 6 more: 10 accounts, 9 with a read of 100 + n kWh (the last has none)."""
    if not Tariff.objects.exists():  # a transactional test before this one flushed it
        importlib.import_module("gridcare.billing.migrations.0002_demo_catalogue").load(apps, None)
    extra = [
        make_account(CustomerFactory(unit=world.station_a), f"31000001{n:02d}", world.area_a)
        for n in range(6)
    ]
    for seq, acct in enumerate(extra, start=5):
        route.memberships.create(account=acct, sequence=seq)
    accts = [*world.accts, *extra]
    for n, acct in enumerate(accts[:-1]):
        read(acct, at(2026, 10, 5), str(100 + n))
    return accts


def state(run):
    run.refresh_from_db()
    return (
        run.status,
        run.processed_count,
        run.billed_count,
        run.exception_count,
        run.chunks_done,
        run.chunks_total,
    )


def amounts_ok(many):
    # 100 + n kWh × 0.538 yuan, each bill one energy line
    for n, acct in enumerate(many[:-1]):
        bill = Bill.objects.get(account=acct)
        assert bill.amount == (Decimal(100 + n) * Decimal("0.538")).quantize(Decimal("0.01"))
        assert list(bill.lines.values_list("seq", "code")) == [(1, "energy")]


def test_job_bills_every_chunk_and_finishes(world, route, many):
    run, job = services.billing_run_submit(
        actor=SYSTEM, period="2026-10", route=route, today=TODAY, chunk_size=2
    )
    # 10 accounts by 2: five chunks, all done; 9 bills, 1 exception (the account without a read)
    assert state(run) == (BillingRunStatus.DONE, 10, 9, 1, 5, 5)
    assert run.last_account_id == max(a.pk for a in many)
    assert list(BillingRunChunk.objects.filter(run=run).values_list("index", "size", "done")) == [
        (i, 2, True) for i in range(5)
    ]
    assert (job.kind, job.state, job.done, job.total) == ("billing.run", JobState.SUCCEEDED, 5, 5)
    assert job.result["billed"] == 9 and job.result["exceptions"] == 1
    assert run.job_id == job.pk and not BillingRunLease.objects.exists()
    amounts_ok(many)
    assert BillingException.objects.get(run=run).account == many[-1]
    # Started again: a new job, a new plan over the whole run, nothing billed twice
    run2, job2 = services.billing_run_submit(
        actor=SYSTEM, period="2026-10", route=route, today=TODAY, chunk_size=3
    )
    assert run2.pk == run.pk and job2.pk != job.pk
    assert state(run2) == (BillingRunStatus.DONE, 10, 9, 1, 4, 4)
    assert (
        Bill.objects.count() == 9 and BillLine.objects.count() == 9 and BillingException.objects.count() == 1
    )


def test_chunks_out_of_order_and_delivered_twice(world, route, many):
    run = start(route)
    holder = leases.claim(run)
    run = runs.plan_execution(run.pk, holder, chunk_size=2)
    first_ids = sorted(a.pk for a in many)
    assert runs.run_chunk(run.pk, 3, holder) is True
    assert runs.run_chunk(run.pk, 1, holder) is True
    # Chunks 1 and 3 are done, chunk 0 is not: the checkpoint stays before it
    assert state(run) == (BillingRunStatus.RUNNING, 4, 4, 0, 2, 5) and run.last_account_id == 0
    assert runs.run_chunk(run.pk, 3, holder) is False  # a second delivery: nothing more
    assert state(run)[1:] == (4, 4, 0, 2, 5)
    runs.run_chunk(run.pk, 0, holder)
    run.refresh_from_db()
    assert run.last_account_id == first_ids[3]  # over chunks 0 and 1, not 3 (2 is open)
    runs.run_chunk(run.pk, 4, holder)
    runs.run_chunk(run.pk, 2, holder)  # the last one ends the run
    assert state(run) == (BillingRunStatus.DONE, 10, 9, 1, 5, 5)
    assert run.last_account_id == first_ids[-1] and run.finished_at is not None
    assert not BillingRunLease.objects.exists()
    amounts_ok(many)


def test_a_chunk_killed_mid_way_is_retried_without_duplicates(world, route, many, monkeypatch):
    """A worker dying after the COPY but before the commit (here: an interrupt at the lease renewal) loses the
    whole chunk transaction; the message is delivered again and the chunk bills its accounts once."""
    run = start(route)
    holder = leases.claim(run)
    run = runs.plan_execution(run.pk, holder, chunk_size=2)
    real = leases.renew
    calls = []

    def dying(r, h):
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt  # not an error of the run: the process is going away
        return real(r, h)

    monkeypatch.setattr(leases, "renew", dying)
    with pytest.raises(KeyboardInterrupt):
        runs.run_chunk(run.pk, 0, holder)
    assert not Bill.objects.exists() and state(run)[0] == BillingRunStatus.RUNNING
    for index in range(5):
        tasks.bill_chunk(run.pk, index, holder)
    tasks.bill_chunk(run.pk, 0, holder)  # delivered once more after all: nothing
    assert state(run) == (BillingRunStatus.DONE, 10, 9, 1, 5, 5)
    assert Bill.objects.count() == 9 and Bill.objects.values("account").distinct().count() == 9


def test_a_failed_chunk_fails_the_run_and_its_job_then_resumes(world, route, many, monkeypatch):
    real = runs.rate_prepared
    victim = sorted(a.pk for a in many)[6]  # in chunk 3

    def crashing(plan, usage, **kw):
        if usage.total == Decimal(100 + [a.pk for a in many].index(victim)):
            raise RuntimeError("power cut")
        return real(plan, usage, **kw)

    monkeypatch.setattr(runs, "compile_prepared", lambda *a, **k: None)  # every bill via rate_prepared
    monkeypatch.setattr(runs, "rate_prepared", crashing)
    run, job = services.billing_run_submit(
        actor=SYSTEM, period="2026-10", route=route, today=TODAY, chunk_size=2
    )
    assert state(run) == (BillingRunStatus.FAILED, 6, 6, 0, 3, 5) and "power cut" in run.error
    assert job.state == JobState.FAILED and "power cut" in job.error and job.done == 3
    assert not Bill.objects.filter(account_id=victim).exists()
    assert run.last_account_id < victim  # the checkpoint never passes an unfinished chunk
    assert not BillingRunLease.objects.exists()  # released: the run may be executed again
    monkeypatch.setattr(runs, "rate_prepared", real)
    run, job2 = services.billing_run_submit(
        actor=SYSTEM, period="2026-10", route=route, today=TODAY, chunk_size=2
    )
    # The new plan starts after the checkpoint: accounts 7–10 in two chunks
    assert state(run) == (BillingRunStatus.DONE, 10, 9, 1, 2, 2) and run.error == ""
    assert job2.state == JobState.SUCCEEDED and (job2.done, job2.total) == (2, 2)
    assert Bill.objects.count() == 9 and BillingRun.objects.count() == 1
    amounts_ok(many)


def test_queued_chunks_of_a_failed_execution_write_nothing(world, route, many):
    run = start(route)
    holder = leases.claim(run)
    run = runs.plan_execution(run.pk, holder, chunk_size=2)
    runs.fail(run.pk, holder, "RuntimeError: power cut")
    with pytest.raises(leases.LeaseLost):
        runs.run_chunk(run.pk, 0, holder)
    tasks.bill_chunk(run.pk, 1, holder)  # the task shrugs it off
    assert not Bill.objects.exists() and state(run)[0] == BillingRunStatus.FAILED


def test_a_later_attempt_of_the_job_takes_the_run_over(world, route, many):
    """The stale-job cleanup re-queues a job whose worker died: its new attempt takes over the lease of the
    earlier one, whose chunks still queued then write nothing; another job is refused."""
    run = start(route)
    job = Job.objects.create(kind="billing.run", params={"run_id": run.pk})
    old = leases.claim(run, holder=f"job:{job.pk}:1:aaaa")
    runs.plan_execution(run.pk, old, chunk_size=2)
    with pytest.raises(leases.RunBusy):
        runs.launch(run.pk, job_id=job.pk + 1, attempt=1, chunk_size=2, in_process=True)
    runs.launch(run.pk, job_id=job.pk, attempt=2, chunk_size=2, in_process=True)
    assert state(run) == (BillingRunStatus.DONE, 10, 9, 1, 5, 5)
    with pytest.raises(leases.LeaseLost):
        BillingRunChunk.objects.filter(run=run, index=0).update(done=False)
        runs.run_chunk(run.pk, 0, old)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and job.done == 5


def test_bad_parameters_are_refused_before_anything_is_written(world, route):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        services.billing_run_submit(actor=SYSTEM, period="2026-12", route=route, today=TODAY)
    assert "尚未结束" in str(exc.value)
    assert not BillingRun.objects.exists() and not Job.objects.exists()


@pytest.fixture
def broker_down(settings):
    from gridcare.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    with broker_at("redis://127.0.0.1:1/0"):  # a closed port; the pools rebuilt either way
        yield app


def test_broker_down_starts_nothing(world, route, many, broker_down):
    with pytest.raises(BrokerUnavailable, match="broker unavailable"):
        services.billing_run_submit(actor=SYSTEM, period="2026-10", route=route, today=TODAY)
    assert not BillingRun.objects.exists() and not Bill.objects.exists()
    assert list(Job.objects.values_list("state", "error")) == [(JobState.FAILED, "broker unavailable")]


def test_broker_down_api_and_page(world, route, many, broker_down, monkeypatch):
    monkeypatch.setattr(services, "local_today", lambda: TODAY)
    clerk = UserFactory(username="a_billing", role=Role.BILLING_CLERK, unit=world.bureau_a)
    c = client_for(clerk)
    resp = c.post(
        "/api/v1/billing/runs", {"period": "2026-10", "route_code": "R01"}, content_type="application/json"
    )
    assert resp.status_code == 503 and "broker unavailable" in resp.json()["detail"]
    resp = c.post("/billing/runs/", {"period": "2026-10", "route": route.pk})
    assert resp.status_code == 503 and "broker unavailable" in resp.content.decode()
    assert not BillingRun.objects.exists()


def test_page_shows_a_failed_run_with_its_error_and_retries_it(world, route, many, monkeypatch):
    monkeypatch.setattr(services, "local_today", lambda: TODAY)
    clerk = UserFactory(username="a_billing", role=Role.BILLING_CLERK, unit=world.bureau_a)
    c = client_for(clerk)
    real = runs.rate_prepared
    monkeypatch.setattr(runs, "compile_prepared", lambda *a, **k: None)  # every bill via rate_prepared
    monkeypatch.setattr(
        runs, "rate_prepared", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("power cut"))
    )
    resp = c.post("/billing/runs/", {"period": "2026-10", "route": route.pk})
    run = BillingRun.objects.get()
    assert resp.status_code == 302 and resp["Location"] == f"/billing/runs/{run.pk}/"
    frag = c.get(f"/billing/runs/{run.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-testid="run-error">RuntimeError: power cut<' in frag
    assert f'action="/billing/runs/{run.pk}/retry/"' in frag and 'hx-trigger="every 1s"' not in frag
    monkeypatch.setattr(runs, "rate_prepared", real)
    assert c.post(f"/billing/runs/{run.pk}/retry/").status_code == 302
    run.refresh_from_db()
    assert run.status == BillingRunStatus.DONE and run.billed_count == 9
    assert Job.objects.filter(kind="billing.run").count() == 2
    assert "run-retry" not in c.get(f"/billing/runs/{run.pk}/").content.decode()


def test_cli_queues_the_job_and_waits(world, route, many, capsys):
    from django.core.management import call_command

    call_command(
        "billing",
        "run",
        "--period",
        "2026-10",
        "--route",
        "R01",
        "--chunk-size",
        "4",
        "--today",
        "2026-12-06",
    )
    out = capsys.readouterr().out
    assert "100% 10/10" in out and "出账 9" in out
    job = Job.objects.get()
    assert (job.state, job.done, job.total) == (JobState.SUCCEEDED, 3, 3)
    call_command(
        "billing", "run", "--period", "2026-10", "--route", "R01", "--inline", "--today", "2026-12-06"
    )
    assert Job.objects.count() == 1 and Bill.objects.count() == 9  # inline: no job, nothing billed twice
