"""The rating run's PostgreSQL paths (issue 17 §3): scores and measure notices written with COPY, the pipelined
reader/writer threads (each on its own connection), and a failed run continuing after the last customer it
committed. Skipped on SQLite."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from gridcare.core.audit import Actor
from gridcare.credit import runs
from gridcare.credit.models import CreditEvent, CreditRun, CreditScore, CreditStanding
from gridcare.notify.models import PendingNotice

from ..factories import CustomerFactory, make_account
from .conftest import NOW, TODAY

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="COPY and threads need PostgreSQL"
)
pytestmark = [postgres_only]

NOV = date(2026, 11, 30)


def event(customer, code, day, severity=None):
    return CreditEvent.objects.create(
        customer=customer,
        unit_id=customer.unit_id,
        code=code,
        date=day,
        severity=severity,
        source="staff",
        status="active",
        recorded_at=NOW,
        updated_at=NOW,
    )


def many(cw, n=7):
    out = []
    for i in range(n):
        c = CustomerFactory(unit=cw.station_a, customer_class="commercial" if i % 2 else "residential")
        make_account(c, f"31900000{i:02d}", cw.area_a)
        out.append(c)
    event(out[0], "theft", date(2026, 9, 1))
    event(out[1], "arrears", date(2026, 10, 5), severity=3)
    return out


def expected(run):
    return {s.customer_id: (s.total, s.grade, s.digest) for s in CreditScore.objects.filter(run=run)}


@pytest.mark.django_db
def test_copy_path_in_a_transaction(cw):
    cs = many(cw)
    run = runs.monthly_run_create(actor=Actor(), as_of=NOV, today=TODAY, now=NOW)
    runs.execute(run, now=NOW, chunk_size=3)
    run.refresh_from_db()
    assert (
        run.customers_rated == CreditScore.objects.filter(run=run).count() == CreditStanding.objects.count()
    )
    theft = CreditScore.objects.get(run=run, customer=cs[0])
    assert (theft.grade, theft.total, theft.legal) == ("D", Decimal("50.0"), Decimal("0.0"))
    assert theft.reasons[0]["code"] in ("clean_year", "theft")
    arrears = CreditScore.objects.get(run=run, customer=cs[1])
    # 动力户 without assessment: payment 30 − 30 = 0 → D whatever the total (0 + 20 + 30 + 10 + 0 + 0 = 60).
    assert (arrears.payment, arrears.total, arrears.grade) == (Decimal("0.0"), Decimal("60.0"), "D")
    # Measure notices COPYed as pending rows (first rating at D: deposit or prepaid).
    keys = set(PendingNotice.objects.values_list("dedupe_key", flat=True))
    assert {f"credit_measure:{run.pk}:{cs[0].pk}", f"credit_measure:{run.pk}:{cs[1].pk}"} <= keys
    dec = runs.monthly_run_create(actor=Actor(), as_of=date(2026, 12, 31), today=date(2027, 1, 1), now=NOW)
    runs.execute(dec, now=NOW, chunk_size=3)
    d = CreditScore.objects.get(run=dec, customer=cs[0])
    assert d.reasons is None and d.reasons_from_id == theft.pk


@pytest.mark.django_db(transaction=True)
def test_pipelined_run_equals_sequential_and_resumes(cw, monkeypatch):
    cs = many(cw, 9)
    run = runs.monthly_run_create(actor=Actor(), as_of=NOV, today=TODAY, now=NOW)
    calls = {"n": 0}
    real = runs.write_scores

    def failing(rows, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(rows, **kw)

    monkeypatch.setattr(runs, "write_scores", failing)
    with pytest.raises(RuntimeError):
        runs.execute(run, now=NOW, chunk_size=2)
    run.refresh_from_db()
    assert run.status == "failed"
    written = CreditScore.objects.filter(run=run).count()
    assert written == 4  # two chunks committed, with their standings
    assert CreditStanding.objects.count() == 4
    monkeypatch.setattr(runs, "write_scores", real)
    again = runs.monthly_run_create(actor=Actor(), as_of=NOV, today=TODAY, now=NOW)
    assert again.pk == run.pk
    runs.execute(again, now=NOW, chunk_size=2)
    again.refresh_from_db()
    ids = list(CreditScore.objects.filter(run=run).values_list("customer_id", flat=True))
    assert len(ids) == len(set(ids)) == again.customers_rated  # nobody twice
    assert again.status == "done" and sum(again.grade_counts.values()) == again.customers_rated
    piped = expected(run)
    # The same month rated one after the other in a transaction-free sequential single-customer way agrees.
    for c in cs[:3]:
        s = runs.customer_rate(actor=Actor(), customer=c, as_of=NOV, now=NOW)
        assert (s.total, s.grade, s.digest) == piped[c.pk]
    assert CreditRun.objects.filter(kind="single").count() == 3
