"""Concurrent execution of billing runs (issue 11 §4): a run that is executing, or whose accounts overlap one
executing run of the same period, is refused (409 naming the active run); the lease that says so is a row in
the database (`BillingRunLease`), claimed under a per-period lock, and expires when its executor died.

The tests with threads need PostgreSQL (each thread has its own connection; SQLite in memory has one)."""

import importlib
import threading
from datetime import date, timedelta

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from gridcare.billing import leases, services
from gridcare.billing.models import (
    Bill,
    BillingException,
    BillingRun,
    BillingRunLease,
    BillingRunStatus,
    Tariff,
)
from gridcare.core.locks import Conflict
from gridcare.core.permissions import Role
from gridcare.metering.models import Route, RouteMembership
from tests.billing.test_runs import SYSTEM, at, client_for, post_json, read
from tests.factories import CustomerFactory, UserFactory, make_account

TODAY = date(2026, 12, 6)
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="parallel connections need PostgreSQL"
)


@pytest.fixture
def a_billing(world):
    return UserFactory(username="a_billing", role=Role.BILLING_CLERK, unit=world.bureau_a)


@pytest.fixture
def today(monkeypatch):
    monkeypatch.setattr(services, "local_today", lambda: TODAY)
    return TODAY


@pytest.fixture
def reads(world, route):
    """R01's 4 accounts: the first three read in October (150, 100, 80 kWh), the fourth not. The demo tariff
    catalogue is loaded again when a transactional test before this one flushed it."""
    if not Tariff.objects.exists():
        importlib.import_module("gridcare.billing.migrations.0002_demo_catalogue").load(apps, None)
    for acct, kwh in zip(world.accts, ("150", "100", "80"), strict=False):
        read(acct, at(2026, 10, 5), kwh)
    return world.accts


@pytest.fixture
def route_b(world):
    """Route R90 in station B with acct_b, read in October: outside station A's subtree."""
    r = Route.objects.create(
        code="R90", name="西关一段", unit=world.station_b, reading_day=5, created_at=timezone.now()
    )
    RouteMembership.objects.create(account=world.acct_b, route=r, sequence=1)
    read(world.acct_b, at(2026, 10, 5), "10")
    return r


def route_run(route, period="2026-10"):
    return services.billing_run_start(actor=SYSTEM, period=period, route=route, today=TODAY)


def unit_run(unit, period="2026-10"):
    return services.billing_run_start(actor=SYSTEM, period=period, unit=unit, today=TODAY)


def counts(run):
    run.refresh_from_db()
    return run.status, run.total_count, run.processed_count, run.billed_count, run.exception_count


# ---------------------------------------------------------------- the lease, one connection


def test_a_leased_run_is_refused_naming_it(world, route, reads):
    run = route_run(route)
    holder = leases.claim(run)
    with pytest.raises(Conflict) as exc:
        services.billing_run_execute(run.pk)
    message = str(exc.value)
    assert f"#{run.pk}" in message and "2026-10" in message and "R01" in message, message
    assert exc.value.holder == run
    assert not Bill.objects.exists() and BillingRun.objects.get().status == BillingRunStatus.PENDING
    leases.release(run, holder)
    assert counts(services.billing_run_execute(run.pk)) == (BillingRunStatus.DONE, 4, 4, 3, 1)
    assert not BillingRunLease.objects.exists()  # released when the run ends


@pytest.mark.parametrize("first", ["unit", "route"])
def test_overlapping_runs_of_a_period_are_refused(world, route, reads, first):
    """A unit-wide run covers every route of its subtree: it and a route run of it exclude each other."""
    by_route, by_station, by_bureau = route_run(route), unit_run(world.station_a), unit_run(world.bureau_a)
    held = by_station if first == "unit" else by_route
    leases.claim(held)
    others = [r for r in (by_route, by_station, by_bureau) if r != held]
    for other in others:
        with pytest.raises(Conflict) as exc:
            services.billing_run_execute(other.pk)
        assert f"#{held.pk}" in str(exc.value) and exc.value.holder == held
    assert not Bill.objects.exists() and not BillingException.objects.exists()


def test_runs_that_do_not_overlap_go_ahead(world, route, reads, route_b):
    held = unit_run(world.station_a)
    leases.claim(held)
    # Station B's unit (another branch of the tree), and station A's own route in another month
    assert counts(services.billing_run_execute(unit_run(world.station_b).pk))[3] == 1
    assert counts(services.billing_run_execute(route_run(route_b).pk))[0] == BillingRunStatus.DONE
    assert counts(services.billing_run_execute(route_run(route, "2026-09").pk))[0] == BillingRunStatus.DONE
    assert BillingRunLease.objects.get().run == held


def test_sibling_paths_are_not_prefixes(world, route, reads):
    """Unit paths "010101." and "0101010." never match by a bare string prefix: paths end with a dot."""
    assert world.station_a.path.endswith(".")
    assert leases.overlaps(world.station_a.path, None, world.station_a.path + "02.", 7)
    assert not leases.overlaps("01.02.", None, "01.021.", None)


def test_an_expired_lease_does_not_block(world, route, reads, settings):
    """A crashed executor's lease expires after GRIDCARE["BILLING_LEASE_SECONDS"]; then anyone may resume."""
    run = route_run(route)
    leases.claim(run)
    BillingRunLease.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert counts(services.billing_run_execute(run.pk)) == (BillingRunStatus.DONE, 4, 4, 3, 1)
    assert not BillingRunLease.objects.exists()


def test_the_lease_lasts_the_setting(world, route, settings):
    settings.GRIDCARE = {**settings.GRIDCARE, "BILLING_LEASE_SECONDS": 90}
    run = route_run(route)
    before = timezone.now()
    leases.claim(run)
    lease = BillingRunLease.objects.get()
    assert before + timedelta(seconds=90) <= lease.expires_at <= timezone.now() + timedelta(seconds=90)
    assert (lease.period, lease.path, lease.route_id) == ("2026-10", world.station_a.path, route.pk)


def test_a_lost_lease_stops_the_run(world, route, reads):
    """Another executor took the lease over (ours had expired) before our first chunk: nothing is written."""
    run = route_run(route)

    def taken_over(r):  # the first progress report comes before any chunk, outside its transaction
        BillingRunLease.objects.filter(run=r).update(holder="someone-else")

    with pytest.raises(leases.LeaseLost, match="lease"):
        services.billing_run_execute(run.pk, chunk_size=2, progress=taken_over)
    assert not Bill.objects.exists() and not BillingException.objects.exists()
    # The run is the other executor's now: its lease stays and its status is not marked failed here
    assert BillingRunLease.objects.get().holder == "someone-else"
    assert BillingRun.objects.get().status == BillingRunStatus.RUNNING


def test_a_run_being_executed_cannot_be_deleted(world, route):
    run = route_run(route)
    leases.claim(run)
    with pytest.raises(Exception, match="正在执行"):
        services.billing_run_delete(actor=SYSTEM, run=run)
    assert BillingRun.objects.filter(pk=run.pk).exists()


# ---------------------------------------------------------------- API, console page, CLI: 409


def test_api_answers_409_naming_the_active_run(world, route, reads, a_billing, today):
    held = unit_run(world.station_a)
    leases.claim(held)
    resp = post_json(
        client_for(a_billing), "/api/v1/billing/runs", {"period": "2026-10", "route_code": "R01"}
    )
    assert resp.status_code == 409, resp.content
    assert f"#{held.pk}" in resp.json()["detail"] and "正在执行" in resp.json()["detail"]
    assert not Bill.objects.exists()


def test_console_page_says_the_run_is_busy(world, route, reads, a_billing, today):
    held = unit_run(world.station_a)
    leases.claim(held)
    resp = client_for(a_billing).post("/billing/runs/", {"period": "2026-10", "route": route.pk})
    body = resp.content.decode()
    assert resp.status_code == 409 and f"#{held.pk}" in body and "正在执行" in body
    assert not Bill.objects.exists()


def test_cli_says_the_run_is_busy(world, route, reads, today):
    held = unit_run(world.station_a)
    leases.claim(held)
    with pytest.raises(CommandError, match=f"#{held.pk}.*正在执行"):
        call_command("billing", "run", "--period", "2026-10", "--route", "R01", "--today", "2026-12-06")
    assert not Bill.objects.exists()


# ---------------------------------------------------------------- two executors at once (PostgreSQL)


def _race(run_ids: list[int]) -> list:
    """Execute the runs at once, one thread (and connection) each. Whoever gets going first waits in its
    first progress report until the other call has returned, so the two executions surely overlap."""
    barrier, finished = threading.Barrier(len(run_ids)), threading.Event()
    results: list = [None] * len(run_ids)

    def run(i, run_id):
        reported = []

        def progress(_run):
            if not reported:
                reported.append(True)
                finished.wait(timeout=15)

        try:
            barrier.wait(timeout=30)
            results[i] = services.billing_run_execute(run_id, chunk_size=2, progress=progress)
        except Exception as exc:  # noqa: BLE001 — the refused one is part of the result
            results[i] = exc
        finally:
            finished.set()
            connection.close()

    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(run_ids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def _one_wins(results):
    done = [r for r in results if isinstance(r, BillingRun)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(done) == 1 and len(refused) == 1, results
    return done[0], refused[0]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_same_run_executed_twice_at_once(world, route, reads):
    run = route_run(route)
    winner, refusal = _one_wins(_race([run.pk, run.pk]))
    assert f"#{run.pk}" in str(refusal) and refusal.holder.pk == run.pk
    # 4 accounts, 3 read: 3 bills, 1 exception, each exactly once
    assert counts(run) == (BillingRunStatus.DONE, 4, 4, 3, 1)
    assert Bill.objects.count() == 3 and BillingException.objects.count() == 1
    assert not BillingRunLease.objects.exists()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_unit_run_and_a_route_run_at_once(world, route, reads):
    by_unit, by_route = unit_run(world.station_a), route_run(route)
    winner, refusal = _one_wins(_race([by_unit.pk, by_route.pk]))
    loser = by_route if winner.pk == by_unit.pk else by_unit
    assert f"#{winner.pk}" in str(refusal) and refusal.holder.pk == winner.pk
    assert counts(winner) == (BillingRunStatus.DONE, 4, 4, 3, 1)
    assert counts(loser)[0] == BillingRunStatus.PENDING and counts(loser)[3] == 0
    assert Bill.objects.count() == 3 and set(Bill.objects.values_list("run_id", flat=True)) == {winner.pk}
    assert not BillingRunLease.objects.exists()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_chunks_keep_and_release_the_lease(world, route, reads):
    """An execution of several chunks holds the lease from its plan to its last chunk, which releases it."""
    extra = [
        make_account(CustomerFactory(unit=world.station_a), f"31000001{n:02d}", world.area_a)
        for n in range(3)
    ]
    for seq, acct in enumerate(extra, start=5):
        route.memberships.create(account=acct, sequence=seq)
        read(acct, at(2026, 10, 6), "10")
    run = route_run(route)
    seen = []
    done = services.billing_run_execute(
        run.pk,
        chunk_size=2,
        progress=lambda r: seen.append(BillingRunLease.objects.filter(run=r).count()),
    )
    assert counts(done) == (BillingRunStatus.DONE, 7, 7, 6, 1)
    # after the plan and after chunks 1–3 of 4: held; after the last chunk: released
    assert seen == [1, 1, 1, 1, 0] and not BillingRunLease.objects.exists()
