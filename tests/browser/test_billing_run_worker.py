"""Browser test with a real worker: a billing clerk starts a billing run from the console; the run's chunks
are billed by a `celery worker` subprocess on Redis against the live test database, and the run page's
progress (htmx polling) moves and finishes.

Needs PostgreSQL (the worker is another process: it must see the test database) and Redis; without them the
test skips saying why, and fails instead when GRIDCARE_REQUIRE_BROKER=1 (.ci/run sets it)."""

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from django.db import connection

from gridcare.billing import services
from gridcare.billing.models import Bill, BillingRun
from gridcare.core.permissions import Role
from gridcare.metering.models import Route, RouteMembership
from tests.billing.test_runs import at, read
from tests.factories import PASSWORD, CustomerFactory, UserFactory, make_account

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REDIS = os.environ.get("GRIDCARE_TEST_REDIS", "redis://127.0.0.1:6379/14")
ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS = 120  # 4 of the route fixture + 116 more; one account per chunk: 120 chunks
TODAY = date(2026, 12, 6)


def _unavailable(reason: str):
    if os.environ.get("GRIDCARE_REQUIRE_BROKER") == "1":
        pytest.fail(f"{reason} (GRIDCARE_REQUIRE_BROKER=1)")
    pytest.skip(reason)


def _redis_answers() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping())
    except Exception:  # noqa: BLE001 — any failure means no broker here
        return False


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def worker(settings, live_server, tmp_path):
    """A `celery worker` (one process) on Redis against the test database; the test's own process (the live
    server) publishes to the same broker."""
    if connection.vendor != "postgresql":
        # Not a missing broker: .ci/run's SQLite pass skips it, its PostgreSQL pass requires it.
        pytest.skip("needs PostgreSQL: the worker process must see the test database (PG=1)")
    if not _redis_answers():
        _unavailable(f"no Redis broker at {REDIS}")
    import redis

    from gridcare.celery import app
    from tests.brokers import broker_at

    redis.Redis.from_url(REDIS).flushdb()
    # The app's connection and producer pools rebuilt for this broker (an earlier test may have closed them).
    switch = broker_at(REDIS)
    switch.__enter__()
    settings.CELERY_TASK_ALWAYS_EAGER = False
    env = {
        **os.environ,
        "CELERY_BROKER_URL": REDIS,
        "DATABASE_URL": _database_url(),
        "GRIDCARE_BILLING_CHUNK_SIZE": "1",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p),
    }
    env.pop("GRIDCARE_TEST_DB_NAME", None)
    log = tmp_path / "worker.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "gridcare.celery", "worker", "-P", "solo", "-n", "browser@%h"]
        + ["--without-gossip", "--without-mingle", "-l", "warning"],
        env=env,
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5, limit=1):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    "the worker did not start:\n" + (proc.stdout.read().decode() if proc.poll() else "")
                )
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        switch.__exit__(None, None, None)


@pytest.fixture
def big_route(world):
    """Route R01 of station A with 120 accounts, each read in October (10 kWh); the tariff catalogue of the migrations."""
    import importlib

    from django.apps import apps

    from gridcare.billing.models import Tariff

    if not Tariff.objects.exists():  # a transactional test before this one flushed it
        importlib.import_module("gridcare.billing.migrations.0002_demo_catalogue").load(apps, None)
    from django.utils import timezone

    route = Route.objects.create(
        code="R01", name="东关一段", unit=world.station_a, reading_day=5, created_at=timezone.now()
    )
    customer = CustomerFactory(unit=world.station_a)
    accts = []
    for n in range(ACCOUNTS):
        acct = make_account(customer, f"3100009{n:03d}", world.area_a)
        RouteMembership.objects.create(account=acct, route=route, sequence=10 + n)
        accts.append(acct)
    for acct in accts:
        read(acct, at(2026, 10, 5), "10")
    return route


def test_console_billing_run_progress_moves_and_finishes(
    browser_page, live_server, world, big_route, worker, monkeypatch
):
    monkeypatch.setattr(services, "local_today", lambda: TODAY)
    UserFactory(username="a_billing", role=Role.BILLING_CLERK, unit=world.bureau_a)
    page = browser_page
    page.goto(f"{live_server.url}/login/")
    page.fill("#username", "a_billing")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=whoami]")
    page.goto(f"{live_server.url}/billing/runs/")
    page.fill("#id_period", "2026-10")
    page.select_option("#id_route", str(big_route.pk))
    page.get_by_role("button", name="开始计费").click()
    page.wait_for_selector("[data-testid=run-status]")
    assert page.url.startswith(f"{live_server.url}/billing/runs/"), page.inner_text("main")
    run = BillingRun.objects.get()
    # The page polls the run once a second: note what it shows until the run is done
    seen: list[int] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        processed = int(page.inner_text("[data-testid=run-processed]"))
        if not seen or seen[-1] != processed:
            seen.append(processed)
        if page.inner_text("[data-testid=run-status]") == "已完成":
            break
        page.wait_for_timeout(200)
    assert page.inner_text("[data-testid=run-status]") == "已完成", (seen, worker.poll())
    moving = [n for n in seen if 0 < n < ACCOUNTS]
    assert len(moving) >= 2, seen  # the bar moved over several polls before the end
    assert seen == sorted(seen) and seen[-1] == ACCOUNTS
    assert page.inner_text("[data-testid=run-billed]") == str(ACCOUNTS)
    run.refresh_from_db()
    assert (run.chunks_done, run.chunks_total, run.job.state, run.job.done) == (
        ACCOUNTS,
        ACCOUNTS,
        "succeeded",
        ACCOUNTS,
    )
    assert Bill.objects.count() == ACCOUNTS and Bill.objects.values("account").distinct().count() == ACCOUNTS
