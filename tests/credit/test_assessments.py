"""On-site assessments (issue 17 §3): the customer manager enters, a supervisor (not the assessor) reviews; power
customers only; 0–5 with one decimal; the latest approved one counts in a run, none counts 0; the due list."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.scoping import PermissionDenied
from gridcare.credit import assessments as svc
from gridcare.credit import runs
from gridcare.credit.models import CreditScore, SiteAssessment

from ..factories import CustomerFactory, make_account
from .conftest import NOW, TODAY


def create(w, user=None, **kw):
    args = {"conduct": "4", "potential": "3.5", "assessed_on": date(2026, 11, 20), "note": "走访：订单饱满"}
    args.update(kw)
    return svc.assessment_create(
        actor=Actor(user=user or w.cmanager), customer=w.power_a, today=TODAY, now=NOW, **args
    )


def test_create_and_approve_flow(cw):
    a = create(cw)
    assert (a.status, a.conduct, a.potential, a.assessed_by, a.unit_id) == (
        "pending",
        Decimal("4.0"),
        Decimal("3.5"),
        cw.cmanager,
        cw.power_a.unit_id,
    )
    assert AuditEvent.objects.filter(action="credit.assessment_create", object_id=str(a.pk)).exists()
    a = svc.assessment_review(
        actor=Actor(user=cw.a_manager), assessment=a, approve=True, note="同意", now=NOW
    )
    assert (a.status, a.reviewed_by, a.review_note) == ("approved", cw.a_manager, "同意")
    ev = AuditEvent.objects.get(action="credit.assessment_review", object_id=str(a.pk))
    assert ev.changes["decision"] == "approved"
    with pytest.raises(ValidationError) as exc:  # already reviewed
        svc.assessment_review(actor=Actor(user=cw.a_manager2), assessment=a, approve=False, note="x", now=NOW)
    assert "status" in exc.value.message_dict


def test_reject_needs_a_note_and_assessor_cannot_review(cw):
    a = create(cw)
    with pytest.raises(ValidationError) as exc:
        svc.assessment_review(actor=Actor(user=cw.a_manager), assessment=a, approve=False, note="", now=NOW)
    assert "note" in exc.value.message_dict
    a = svc.assessment_review(
        actor=Actor(user=cw.a_manager), assessment=a, approve=False, note="数据不实", now=NOW
    )
    assert a.status == "rejected"
    # The assessor may not review their own (an admin who assessed, for instance).
    b = SiteAssessment.objects.create(
        customer=cw.power_a,
        unit_id=cw.power_a.unit_id,
        conduct=1,
        potential=1,
        assessed_on=date(2026, 11, 1),
        assessed_by=cw.a_manager,
        created_at=NOW,
    )
    with pytest.raises(ValidationError) as exc:
        svc.assessment_review(actor=Actor(user=cw.a_manager), assessment=b, approve=True, now=NOW)
    assert "decision" in exc.value.message_dict
    assert SiteAssessment.objects.get(pk=b.pk).status == "pending"


def test_lighting_refused_and_ranges(cw):
    with pytest.raises(ValidationError) as exc:
        svc.assessment_create(
            actor=Actor(user=cw.cmanager),
            customer=cw.cust_a,
            conduct="3",
            potential="3",
            assessed_on=date(2026, 11, 1),
            today=TODAY,
            now=NOW,
        )
    assert "customer_id" in exc.value.message_dict
    for field, bad in (
        ("conduct", "5.1"),
        ("conduct", "-0.1"),
        ("potential", "4.55"),
        ("potential", "abc"),
        ("conduct", "NaN"),
        ("potential", ""),
    ):
        with pytest.raises(ValidationError) as exc:
            create(cw, **{field: bad})
        assert field in exc.value.message_dict, (field, bad)
    with pytest.raises(ValidationError) as exc:
        create(cw, assessed_on=date(2026, 12, 2))  # after today
    assert "assessed_on" in exc.value.message_dict
    assert create(cw, conduct="0", potential="5").potential == Decimal("5.0")
    assert SiteAssessment.objects.count() == 1


def test_permissions(cw):
    with pytest.raises(PermissionDenied):  # a manager holds credit.approve, not credit.assess
        create(cw, user=cw.a_manager)
    other = CustomerFactory(unit=cw.station_b, customer_class="commercial")
    with pytest.raises(PermissionDenied):
        svc.assessment_create(
            actor=Actor(user=cw.cmanager),
            customer=other,
            conduct="1",
            potential="1",
            assessed_on=date(2026, 11, 1),
            today=TODAY,
            now=NOW,
        )
    a = create(cw)
    for user in (cw.b_manager, cw.cmanager, cw.inspector):  # other unit; no credit.approve
        with pytest.raises(PermissionDenied):
            svc.assessment_review(actor=Actor(user=user), assessment=a, approve=True, now=NOW)
    assert SiteAssessment.objects.get(pk=a.pk).status == "pending"


def test_latest_approved_counts_none_counts_zero(cw):
    as_of = date(2026, 11, 30)
    run = runs.monthly_run_create(actor=Actor(), as_of=as_of, today=TODAY, now=NOW)
    runs.execute(run, now=NOW)
    s = CreditScore.objects.get(run=run, customer=cw.power_a)
    assert (s.conduct, s.potential, s.total) == (Decimal("0"), Decimal("0"), Decimal("90.0"))  # 30+20+30+10
    old = create(cw, conduct="2", potential="2", assessed_on=date(2025, 10, 1))
    svc.assessment_review(actor=Actor(user=cw.a_manager), assessment=old, approve=True, now=NOW)
    new = create(cw, conduct="4.5", potential="3", assessed_on=date(2026, 10, 1))
    # Pending: the old one still counts.
    assert svc.latest_approved(cw.power_a.pk, as_of) == old
    svc.assessment_review(actor=Actor(user=cw.a_manager), assessment=new, approve=True, now=NOW)
    assert svc.latest_approved(cw.power_a.pk, as_of) == new
    assert svc.latest_approved(cw.power_a.pk, date(2026, 9, 30)) == old
    s = runs.customer_rate(actor=Actor(), customer=cw.power_a, as_of=TODAY, now=NOW)
    assert (s.conduct, s.potential, s.total, s.grade) == (
        Decimal("4.5"),
        Decimal("3.0"),
        Decimal("97.5"),
        "AAA",
    )


def test_assessments_due(cw):
    fresh = CustomerFactory(unit=cw.station_a, customer_class="commercial")
    make_account(fresh, "3100000077", cw.area_a)
    due = {c.pk: c.last_assessed for c in svc.assessments_due(cw.cmanager, TODAY)}
    assert cw.power_a.pk in due and due[cw.power_a.pk] is None and fresh.pk in due
    assert cw.cust_a.pk not in due  # 照明户
    assert cw.cust_b.pk not in due  # other unit
    a = create(cw, assessed_on=date(2025, 12, 2))
    svc.assessment_review(actor=Actor(user=cw.a_manager), assessment=a, approve=True, now=NOW)
    assert cw.power_a.pk not in {c.pk for c in svc.assessments_due(cw.cmanager, TODAY)}
    # Twelve months on (policy default), it is due again.
    assert cw.power_a.pk in {c.pk for c in svc.assessments_due(cw.cmanager, date(2026, 12, 2))}
