"""The credit demo (`gridcare demo_credit`) on a small world, as of a fixed day: inspections performed through the
services, staff events recorded and approved by a second person (some pending, one contest of each outcome when
there are candidates), on-site assessments, twelve monthly runs with history — every grade occurs (the showcase) —
and a second run writes nothing."""

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command

from gridcare.core.clock import demo_clock
from gridcare.core.models import AuditEvent
from gridcare.credit import demo
from gridcare.credit.models import (
    CreditEvent,
    CreditRun,
    CreditScore,
    CreditStanding,
    Inspection,
    SiteAssessment,
)

from ..factories import CustomerFactory, make_account, valid_uscc

TODAY = date(2026, 12, 8)


@pytest.fixture
def small(cw):
    """cw plus 30 residential and 12 business customers in stations A1 and B1, accounts opened 2020-01-01."""
    w = cw
    n = 10
    for k in range(30):
        area = w.area_a if k % 2 else w.area_b
        c = CustomerFactory(unit=area.unit)
        make_account(c, f"33{n:08d}", area)
        n += 1
    for k in range(12):
        area = w.area_a if k % 2 else w.area_b
        c = CustomerFactory(
            unit=area.unit,
            kind="organisation",
            id_number=valid_uscc(100 + k),
            customer_class="commercial",
            segment="sme",
        )
        make_account(c, f"33{n:08d}", area)
        n += 1
    return w


def test_demo_every_grade_history_and_idempotent(small):
    today, now = demo_clock(TODAY)
    counts = demo.demo_credit(today=today, now=now, seed=3)
    assert counts["runs"] == 12
    runs = list(CreditRun.objects.filter(kind="monthly").order_by("as_of"))
    # Month ends from 2025-12-31 to 2026-11-30, each rating every customer.
    assert [r.as_of for r in runs][0] == date(2025, 12, 31) and runs[-1].as_of == date(2026, 11, 30)
    assert all(r.status == "done" and r.customers_rated == runs[-1].customers_rated for r in runs)
    latest = runs[-1]
    grades = set(CreditScore.objects.filter(run=latest).values_list("grade", flat=True))
    assert grades == {"AAA", "AA", "A", "B", "C", "D"}
    assert CreditStanding.objects.count() == latest.customers_rated
    # A legal or payment score of 0 is D; a theft up to as_of costs the whole legal score unless a report with
    # cooperation (+10) offsets part of it, so theft customers are D but for those.
    latest_scores = CreditScore.objects.filter(run=latest)
    assert set(latest_scores.filter(legal=0).values_list("grade", flat=True)) == {"D"}
    theft = set(
        CreditEvent.objects.filter(code="theft", status="active", date__lte=latest.as_of).values_list(
            "customer_id", flat=True
        )
    )
    helped = set(
        CreditEvent.objects.filter(code="report_cooperation", status="active").values_list(
            "customer_id", flat=True
        )
    )
    assert theft - helped
    assert set(latest_scores.filter(customer_id__in=theft - helped).values_list("grade", flat=True)) == {"D"}
    # Staff events went through the services: recorded by an inspector, approved by someone else, audited.
    active = CreditEvent.objects.filter(source="staff", status="active")
    assert active.exists() and all(e.decided_by_id != e.recorded_by_id for e in active)
    assert AuditEvent.objects.filter(action="credit.event_approve").count() >= active.count()
    assert Inspection.objects.filter(status__in=["done", "refused"]).exists()
    assert Inspection.objects.filter(status="scheduled").exists()  # the next cycle is scheduled
    assert SiteAssessment.objects.filter(status="approved").exists()
    # Every customer has a year of grades.
    assert CreditScore.objects.filter(customer=small.power_a).count() == 12
    # A second run writes nothing.
    before = (CreditEvent.objects.count(), CreditScore.objects.count(), AuditEvent.objects.count())
    out = StringIO()
    call_command("demo_credit", "--seed", "3", "--today", TODAY.isoformat(), stdout=out)
    assert "nothing written" in out.getvalue()
    assert (CreditEvent.objects.count(), CreditScore.objects.count(), AuditEvent.objects.count()) == before
