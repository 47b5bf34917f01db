"""Services of the credit-event register: recording with evidence, the second person's approval, candidates,
contests and their decision, each audited; refusals write nothing."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.core.scoping import PermissionDenied
from gridcare.credit import services
from gridcare.credit.events import event_create
from gridcare.credit.models import CreditContest, CreditEvent, CreditEvidence
from gridcare.customers.models import PortalBinding

from .conftest import NOW, TODAY

PDF = b"%PDF-1.4\n% evidence\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def record(cw, user=None, **kw):
    args = {
        "actor": Actor(user=user or cw.inspector),
        "customer_id": cw.power_a.pk,
        "code": "theft",
        "day": date(2026, 11, 20),
        "description": "私接电源",
        "today": TODAY,
        "now": NOW,
    }
    args.update(kw)
    return services.event_record(**args)


def candidate(cw):
    return event_create(
        actor=Actor(),
        customer_id=cw.cust_a.pk,
        unit_id=cw.cust_a.unit_id,
        code="wrong_bank_account",
        day=date(2026, 11, 11),
        source="withholding",
        status="candidate",
        account_id=cw.acct_a.pk,
        source_key="withholding:1",
        now=NOW,
    )


def active_event(cw, customer=None):
    c = customer or cw.cust_a
    return event_create(
        actor=Actor(),
        customer_id=c.pk,
        unit_id=c.unit_id,
        code="arrears",
        day=date(2026, 9, 21),
        source="ledger",
        status="active",
        severity=1,
        source_key=f"arrears:x:{c.pk}",
        now=NOW,
    )


def test_record_pending_then_second_person_approves(cw):
    e = record(cw, inspector_id=cw.inspector.pk)
    assert (e.status, e.source, e.unit_id, e.recorded_by_id, e.inspector_id) == (
        "pending",
        "staff",
        cw.power_a.unit_id,
        cw.inspector.pk,
        cw.inspector.pk,
    )
    # The recorder may not approve (an approver who recorded neither).
    e2 = record(cw, user=cw.a_manager)
    with pytest.raises(ValidationError) as exc:
        services.event_approve(actor=Actor(user=cw.a_manager), event=e2)
    assert "approver" in exc.value.message_dict
    e2.refresh_from_db()
    assert e2.status == "pending"
    services.event_approve(actor=Actor(user=cw.a_manager2), event=e2, note="证据充分", now=NOW)
    e2.refresh_from_db()
    assert (e2.status, e2.decided_by_id, e2.decision_note) == ("active", cw.a_manager2.pk, "证据充分")
    a = AuditEvent.objects.get(action="credit.event_approve")
    assert a.changes["status"] == ["pending", "active"] and a.actor_id == cw.a_manager2.pk
    # The inspector holds no credit.approve.
    with pytest.raises(PermissionDenied):
        services.event_approve(actor=Actor(user=cw.inspector), event=e)
    # Another bureau's manager: refused as out of scope.
    with pytest.raises(PermissionDenied):
        services.event_approve(actor=Actor(user=cw.b_manager), event=e)
    services.event_reject(actor=Actor(user=cw.a_manager), event=e, reason="证据不足", now=NOW)
    e.refresh_from_db()
    assert e.status == "rejected"
    assert AuditEvent.objects.get(action="credit.event_reject").changes["note"] == "证据不足"
    with pytest.raises(ValidationError):  # already decided
        services.event_approve(actor=Actor(user=cw.a_manager2), event=e)


def test_reject_needs_a_reason(cw):
    e = record(cw)
    with pytest.raises(ValidationError) as exc:
        services.event_reject(actor=Actor(user=cw.a_manager), event=e, reason="  ")
    assert "reason" in exc.value.message_dict


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"code": "arrears"}, "code"),
        ({"code": "rectification_overdue"}, "code"),
        ({"code": "nonsense"}, "code"),
        ({"day": date(2026, 12, 2)}, "date"),
        ({"code": "unqualified_electrician"}, "count"),
        ({"code": "unqualified_electrician", "count": 0}, "count"),
        ({"code": "theft", "count": 2}, "count"),
        ({"description": "x" * 2001}, "description"),
        ({"description": "a\x00b"}, "description"),
    ],
)
def test_record_bad_input(cw, kw, field):
    with pytest.raises(ValidationError) as exc:
        record(cw, **kw)
    assert field in exc.value.message_dict
    assert not CreditEvent.objects.exists()


def test_record_electricians_with_count(cw):
    e = record(cw, code="unqualified_electrician", count=2)
    assert (e.count, e.severity) == (2, None)


def test_record_inspector_must_cover_the_customer(cw):
    with pytest.raises(ValidationError) as exc:
        record(cw, inspector_id=cw.b_inspector.pk)
    assert "inspector_id" in exc.value.message_dict
    with pytest.raises(ValidationError):
        record(cw, inspector_id=cw.portal_user.pk)


def test_record_outside_the_unit_is_refused(cw):
    with pytest.raises(PermissionDenied):
        record(cw, user=cw.b_inspector)
    with pytest.raises(PermissionDenied):
        record(cw, user=cw.a_clerk)  # no credit.record
    with pytest.raises(PermissionDenied):
        record(cw, customer_id=987654)
    assert not CreditEvent.objects.exists()


def test_evidence(cw):
    e = record(cw)
    ev = services.evidence_add(
        actor=Actor(user=cw.inspector), event=e, name="现场照片.png", data=PNG, now=NOW
    )
    assert (ev.name, ev.size) == ("现场照片.png", len(PNG))
    assert ev.file.name.startswith(f"credit/evidence/{e.pk}/") and ev.file.name.endswith(".png")
    services.evidence_add(actor=Actor(user=cw.inspector), event=e, name="通知书.pdf", data=PDF)
    assert AuditEvent.objects.filter(action="credit.evidence_add").count() == 2
    for name, data in [
        ("a.exe", b"MZ\x90\x00"),
        ("empty.pdf", b""),
        ("big.pdf", b"%PDF-" + b"0" * (10 << 20)),
    ]:
        with pytest.raises(ValidationError) as exc:
            services.evidence_add(actor=Actor(user=cw.inspector), event=e, name=name, data=data)
        assert "file" in exc.value.message_dict
    with pytest.raises(PermissionDenied):
        services.evidence_add(actor=Actor(user=cw.b_inspector), event=e, name="x.pdf", data=PDF)
    assert CreditEvidence.objects.count() == 2


def test_candidate_confirm_and_dismiss(cw):
    c1 = candidate(cw)
    services.candidate_confirm(actor=Actor(user=cw.a_manager), event=c1, note="客户承认故意")
    c1.refresh_from_db()
    assert c1.status == "active"
    c2 = event_create(
        actor=Actor(),
        customer_id=cw.cust_a.pk,
        unit_id=cw.cust_a.unit_id,
        code="wrong_bank_account",
        day=date(2026, 11, 12),
        source="withholding",
        status="candidate",
        source_key="withholding:2",
    )
    with pytest.raises(ValidationError) as exc:
        services.candidate_dismiss(actor=Actor(user=cw.a_manager), event=c2, note="")
    assert "note" in exc.value.message_dict
    services.candidate_dismiss(actor=Actor(user=cw.a_manager), event=c2, note="银行系统故障，非客户原因")
    c2.refresh_from_db()
    assert c2.status == "dismissed"
    assert {a.action for a in AuditEvent.objects.filter(action__startswith="credit.event_")} >= {
        "credit.event_confirm",
        "credit.event_dismiss",
    }
    with pytest.raises(PermissionDenied):
        services.candidate_confirm(actor=Actor(user=cw.cmanager), event=c2)  # no credit.approve


def test_contest_from_the_portal_upheld(cw):
    PortalBinding.objects.create(user=cw.portal_user, account=cw.acct_a, created_at=NOW)
    e = active_event(cw)
    c = services.contest_raise(
        actor=Actor(user=cw.portal_user, channel="portal"), event=e, reason="已按时缴费"
    )
    e.refresh_from_db()
    assert (c.channel, c.status, e.status, e.status_before_contest) == (
        "portal",
        "open",
        "contested",
        "active",
    )
    with pytest.raises(ValidationError):  # one open contest per event
        services.contest_raise(actor=Actor(user=cw.portal_user), event=e, reason="再次申诉")
    services.contest_decide(actor=Actor(user=cw.a_manager), contest=c, upheld=True, note="核实欠费属实")
    e.refresh_from_db()
    c.refresh_from_db()
    assert (c.status, e.status, e.status_before_contest) == ("upheld", "active", "")
    raise_row = AuditEvent.objects.get(action="credit.contest_raise")
    assert raise_row.customer_id == cw.cust_a.pk and raise_row.changes["channel"] == "portal"
    decide = AuditEvent.objects.get(action="credit.contest_decide")
    assert decide.changes["status"] == ["contested", "active"] and decide.changes["decision"] == "upheld"


def test_contest_not_bound_customer_refused(cw):
    e = active_event(cw)
    with pytest.raises(PermissionDenied):
        services.contest_raise(actor=Actor(user=cw.portal_user), event=e, reason="不是我的")
    assert not CreditContest.objects.exists()


def test_contest_at_the_hall_annulled(cw):
    e = active_event(cw)
    c = services.contest_raise(actor=Actor(user=cw.a_clerk), event=e, reason="客户持缴费凭证到厅申诉")
    assert c.channel == "hall"
    with pytest.raises(PermissionDenied):
        services.contest_raise(actor=Actor(user=cw.b_clerk), event=active_event(cw, cw.power_a), reason="x")
    services.contest_decide(actor=Actor(user=cw.a_manager), contest=c, upheld=False, note="凭证属实，撤销")
    e.refresh_from_db()
    assert e.status == "void"


def test_contest_by_the_customer_manager_of_a_pending_event(cw):
    e = record(cw)  # pending, power_a is managed by cmanager
    c = services.contest_raise(actor=Actor(user=cw.cmanager), event=e, reason="客户已整改")
    e.refresh_from_db()
    assert (c.channel, e.status, e.status_before_contest) == ("manager", "contested", "pending")
    with pytest.raises(ValidationError):  # contested: no approval meanwhile
        services.event_approve(actor=Actor(user=cw.a_manager), event=e)
    services.contest_decide(actor=Actor(user=cw.a_manager), contest=c, upheld=True, note="维持")
    e.refresh_from_db()
    assert e.status == "pending"


def test_contest_decider_must_not_be_the_raiser_and_needs_approve(cw):
    e = active_event(cw)
    with pytest.raises(PermissionDenied):  # a manager holds no credit.contest …
        services.contest_raise(actor=Actor(user=cw.a_manager), event=e, reason="经理代客户申诉")
    cw.cust_a.customer_manager = cw.a_manager  # … but may contest for a customer they manage
    cw.cust_a.save()
    e = CreditEvent.objects.select_related("customer").get(pk=e.pk)
    c = services.contest_raise(actor=Actor(user=cw.a_manager), event=e, reason="经理代客户申诉")
    assert c.channel == "manager"
    with pytest.raises(ValidationError) as exc:
        services.contest_decide(actor=Actor(user=cw.a_manager), contest=c, upheld=True, note="自己处理")
    assert "decided_by" in exc.value.message_dict
    with pytest.raises(PermissionDenied):
        services.contest_decide(actor=Actor(user=cw.a_clerk), contest=c, upheld=True, note="无权")
    with pytest.raises(ValidationError) as exc:
        services.contest_decide(actor=Actor(user=cw.a_manager2), contest=c, upheld=True, note="")
    assert "note" in exc.value.message_dict
    services.contest_decide(actor=Actor(user=cw.a_manager2), contest=c, upheld=True, note="维持")


def test_closed_events_cannot_be_contested(cw):
    e = candidate(cw)
    with pytest.raises(ValidationError) as exc:
        services.contest_raise(actor=Actor(user=cw.a_clerk), event=e, reason="候选")
    assert "status" in exc.value.message_dict
