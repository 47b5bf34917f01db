"""The parallel run (forked workers, PostgreSQL): every account billed once, checkpoint and resume intact.

Transactional tests: the workers open their own connections, so they must see committed rows. On SQLite the
same calls take the serial path, and the same assertions hold.
"""

import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection

from gridcare.billing import runs, services
from gridcare.billing.models import Bill, BillingException, BillingRun, BillingRunStatus, BillLine
from tests.billing.test_runs import at, read, start
from tests.factories import CustomerFactory, make_account

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def many(world, route):
    """The route's 4 accounts plus 6 more: 10 accounts, 9 with a read (the last has none)."""
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


def test_parallel_run_bills_every_account_once(world, route, many, monkeypatch):
    used = []
    real_parallel = runs._execute_parallel
    monkeypatch.setattr(
        runs, "_execute_parallel", lambda *a, **k: used.append(a[4]) or real_parallel(*a, **k)
    )
    run = services.billing_run_execute(start(route).pk, chunk_size=2, workers=2)
    assert used == (
        [2] if connection.vendor == "postgresql" else []
    )  # 2 workers on PostgreSQL, serial on SQLite
    assert run.status == BillingRunStatus.DONE
    assert (run.total_count, run.processed_count, run.billed_count, run.exception_count) == (10, 10, 9, 1)
    assert run.last_account_id == max(a.pk for a in many)
    # 100 + n kWh × 0.538 yuan, each bill one energy line
    for n, acct in enumerate(many[:-1]):
        bill = Bill.objects.get(account=acct)
        assert bill.amount == (Decimal(100 + n) * Decimal("0.538")).quantize(Decimal("0.01"))
        assert list(bill.lines.values_list("seq", "code")) == [(1, "energy")]
    assert BillingException.objects.get(run=run).account == many[-1]
    # A second execution bills nothing new.
    again = services.billing_run_execute(run.pk, chunk_size=2, workers=2)
    assert Bill.objects.count() == 9 and BillLine.objects.count() == 9 and again.billed_count == 9


def test_parallel_run_fails_cleanly_and_resumes(world, route, many, monkeypatch):
    real = runs.rate_prepared
    victim = sorted(a.pk for a in many)[6]

    def crashing(plan, usage, **kw):
        if usage.total == Decimal(100 + [a.pk for a in many].index(victim)):
            raise RuntimeError("power cut")
        return real(plan, usage, **kw)

    monkeypatch.setattr(runs, "rate_prepared", crashing)  # forked workers inherit it
    run = start(route)
    with pytest.raises(RuntimeError, match="power cut"):
        services.billing_run_execute(run.pk, chunk_size=2, workers=2)
    run.refresh_from_db()
    assert run.status == BillingRunStatus.FAILED and "power cut" in run.error
    assert not Bill.objects.filter(account_id=victim).exists()
    assert run.last_account_id < victim  # the checkpoint never passes an unfinished chunk
    monkeypatch.setattr(runs, "rate_prepared", real)
    run = services.billing_run_execute(run.pk, chunk_size=2, workers=2)
    assert run.status == BillingRunStatus.DONE and run.billed_count == 9 and run.processed_count == 10
    assert Bill.objects.count() == 9 and Bill.objects.values("account").distinct().count() == 9
    assert BillingRun.objects.count() == 1
