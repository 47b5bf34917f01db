"""用电检查 services (issue 17 §2): classes and intervals, scheduling by hand (month-end clamping, the spread of
first inspections), idempotency, performing with defects → pending events, refusal, the notice and its deadline,
the overdue job → one active rectification_overdue event dated deadline + 1. Every expected value is worked out by
hand here; no test reads today's date."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.models import AuditEvent
from gridcare.core.scoping import PermissionDenied
from gridcare.credit import checklist
from gridcare.credit import inspections as svc
from gridcare.credit.models import CreditEvent, Inspection, InspectionItem, RectificationNotice
from gridcare.credit.policy import current_policy
from gridcare.customers.models import Account, ServicePoint

from ..factories import CustomerFactory, make_account
from .conftest import NOW, TODAY

MONTHS = {"hv": 12, "important": 6, "lv_business": 36}


def actor(user):
    return Actor(user=user, channel=Channel.CONSOLE)


def customer(w, number: str, *, cclass="commercial", segment="sme", level="220V", unit=None, area=None):
    c = CustomerFactory(unit=unit or w.station_a, customer_class=cclass, segment=segment, kind="organisation")
    acct = make_account(c, number, area or w.area_a)
    ServicePoint.objects.filter(account=acct).update(voltage_level=level)
    return c


@pytest.fixture
def iw(cw):
    w = cw
    w.hv = customer(w, "3100000010", level="10kV")
    w.important = customer(w, "3100000011", segment="important", level="380V")
    return w


def answers(**results):
    """Every checklist item ok unless given: code=(result, finding)."""
    out = []
    for item in checklist.DEFAULT_CHECKLIST:
        result, finding = results.get(item.code, ("ok", ""))
        out.append(svc.ItemAnswer(item.code, result, finding))
    return out


def special(w, c=None, due=TODAY):
    return svc.inspection_create(
        actor=actor(w.inspector), customer_id=(c or w.power_a).pk, due_on=due, now=NOW
    )


# ---------------------------------------------------------------- classes (pure)


@pytest.mark.parametrize(
    ("cclass", "segment", "levels", "expected"),
    [
        ("large_industry", "large", ["10kV"], ("hv", 12)),
        ("commercial", "sme", ["220V", "35kV"], ("hv", 12)),
        ("commercial", "important", ["380V"], ("important", 6)),
        ("large_industry", "important", ["110kV"], ("important", 6)),  # hv 12, important 6: the shorter wins
        ("commercial", "sme", ["220V", "380V"], ("lv_business", 36)),
        ("agricultural", "sme", ["380V"], ("lv_business", 36)),
        ("residential", "household", ["220V"], None),
        ("residential", "important", ["10kV"], None),  # residential customers are not inspected periodically
        ("commercial", "sme", [], None),  # no service point of an active account
    ],
)
def test_inspection_class_for(cclass, segment, levels, expected):
    got = svc.inspection_class_for(
        customer_class=cclass, segment=segment, voltage_levels=levels, months=MONTHS
    )
    assert got == expected


def test_lv_business_shorter_than_hv_when_configured():
    months = {"hv": 12, "important": 6, "lv_business": 3}
    # 10kV and 220V: not "all 220V/380V", so only hv
    got = svc.inspection_class_for(
        customer_class="commercial", segment="sme", voltage_levels=["10kV", "220V"], months=months
    )
    assert got == ("hv", 12)
    got = svc.inspection_class_for(
        customer_class="commercial", segment="important", voltage_levels=["380V"], months=months
    )
    assert got == ("lv_business", 3)


def test_months_forward_clamps_month_end():
    assert svc.months_forward(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert svc.months_forward(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert svc.months_forward(date(2027, 8, 31), 6) == date(2028, 2, 29)  # leap year
    assert svc.months_forward(date(2026, 1, 31), 1) == date(2026, 2, 28)


def test_first_due_spread():
    # 2026-12-01 + 6 months = 2027-06-01: Dec 31 + Jan 31 + Feb 28 + Mar 31 + Apr 30 + May 31 = 182 days
    assert svc.first_due(customer_id=1000, today=TODAY, months=6) == TODAY + timedelta(days=1000 % 182)
    assert svc.first_due(customer_id=182, today=TODAY, months=6) == TODAY
    # 36 months: 2026-12-01 → 2029-12-01 = 365 × 3 + 1 (2028-02-29) = 1096 days
    assert svc.first_due(customer_id=2000, today=TODAY, months=36) == TODAY + timedelta(days=2000 - 1096)


# ---------------------------------------------------------------- scheduling


def test_schedule_classes_and_spread(iw):
    result = svc.inspections_schedule(today=TODAY, now=NOW)
    assert result == {"today": "2026-12-01", "scheduled": 3, "cancelled": 0}
    rows = {i.customer_id: i for i in Inspection.objects.all()}
    assert set(rows) == {iw.hv.pk, iw.important.pk, iw.power_a.pk}  # cust_a, cust_b residential: none
    assert rows[iw.hv.pk].inspection_class == "hv"
    assert rows[iw.hv.pk].due_on == TODAY + timedelta(days=iw.hv.pk % 365)  # 2026-12-01 → 2027-12-01
    assert rows[iw.important.pk].inspection_class == "important"
    assert rows[iw.important.pk].due_on == TODAY + timedelta(days=iw.important.pk % 182)
    assert rows[iw.power_a.pk].inspection_class == "lv_business"
    assert rows[iw.power_a.pk].due_on == TODAY + timedelta(days=iw.power_a.pk % 1096)
    assert all(i.kind == "periodic" and i.status == "scheduled" for i in rows.values())
    assert rows[iw.hv.pk].unit_id == iw.station_a.pk
    assert AuditEvent.objects.filter(action="credit.inspections_schedule").count() == 1


def test_schedule_is_idempotent(iw):
    svc.inspections_schedule(today=TODAY, now=NOW)
    again = svc.inspections_schedule(today=TODAY + timedelta(days=1), now=NOW)
    assert again == {"today": "2026-12-02", "scheduled": 0, "cancelled": 0}
    assert Inspection.objects.count() == 3
    assert AuditEvent.objects.filter(action="credit.inspections_schedule").count() == 1


def _done(w, c, performed_on, status="done"):
    return Inspection.objects.create(
        customer=c,
        unit=c.unit,
        kind="special",
        due_on=performed_on,
        status=status,
        performed_on=performed_on,
        created_at=NOW,
        updated_at=NOW,
    )


def test_schedule_after_last_inspection_clamps_month_end(iw):
    _done(iw, iw.important, date(2026, 8, 31))  # + 6 months → 2027-02-28
    _done(iw, iw.important, date(2026, 3, 31))  # older: ignored
    _done(iw, iw.hv, date(2024, 2, 29), status="refused")  # + 12 months → 2025-02-28 (overdue)
    _done(iw, iw.power_a, date(2025, 5, 31))  # + 36 months → 2028-05-31
    svc.inspections_schedule(today=TODAY, now=NOW)
    due = dict(Inspection.objects.filter(kind="periodic").values_list("customer_id", "due_on"))
    assert due == {
        iw.important.pk: date(2027, 2, 28),
        iw.hv.pk: date(2025, 2, 28),
        iw.power_a.pk: date(2028, 5, 31),
    }


def test_schedule_cancels_customers_out_of_class(iw):
    svc.inspections_schedule(today=TODAY, now=NOW)
    Account.objects.filter(customer=iw.power_a).update(status="closed")
    result = svc.inspections_schedule(today=TODAY, now=NOW)
    assert result["cancelled"] == 1 and result["scheduled"] == 0
    assert Inspection.objects.get(customer=iw.power_a).status == "cancelled"


def test_schedule_job_kind_and_schedule(iw):
    from gridcare.jobs import services as jobs
    from gridcare.jobs.registry import SCHEDULES

    job = jobs.start("credit.inspections_schedule", {"date": "2026-12-01"}, inline=True)
    assert job.result == {"today": "2026-12-01", "scheduled": 3, "cancelled": 0}
    s = SCHEDULES["credit.inspections_schedule"]
    assert s.crontab == {"minute": "30", "hour": "1"}
    assert SCHEDULES["credit.rectifications_overdue"].crontab == {"minute": "20", "hour": "0"}
    with pytest.raises(ValidationError):
        jobs.start("credit.inspections_schedule", {"date": "2026-13-01"}, inline=True)


def test_special_inspection_any_customer_in_scope(iw):
    i = special(iw, iw.cust_a, due=date(2026, 12, 5))  # residential: special inspections still allowed
    assert (i.kind, i.status, i.inspection_class, i.unit_id) == ("special", "scheduled", "", iw.station_a.pk)
    with pytest.raises(PermissionDenied):
        svc.inspection_create(actor=actor(iw.b_inspector), customer_id=iw.cust_a.pk, due_on=TODAY, now=NOW)
    with pytest.raises(PermissionDenied):
        svc.inspection_create(actor=actor(iw.a_agent), customer_id=iw.cust_a.pk, due_on=TODAY, now=NOW)
    with pytest.raises(PermissionDenied):
        svc.inspection_create(actor=actor(iw.inspector), customer_id=987654, due_on=TODAY, now=NOW)
    # a special inspection does not block the periodic one
    svc.inspections_schedule(today=TODAY, now=NOW)
    assert Inspection.objects.filter(customer=iw.power_a, kind="periodic").count() == 1


# ---------------------------------------------------------------- performing


def test_perform_with_defects_makes_pending_events(iw):
    i = special(iw)
    done = svc.inspection_perform(
        actor=actor(iw.inspector),
        inspection=i,
        items=answers(
            electrician=("defect", "2名电工无进网作业许可证"),
            rules=("defect", "无交接班制度"),
            dispatch=("defect", "未按调度指令限电"),
            anti_theft=("defect", "计量箱封印被破坏，疑似窃电"),
            metering=("na", ""),
        ),
        summary="存在多项问题",
        performed_on=date(2026, 11, 28),
        unqualified_electricians=2,
        today=TODAY,
        now=NOW,
    )
    assert (done.status, done.performed_on, done.inspector_id) == (
        "done",
        date(2026, 11, 28),
        iw.inspector.pk,
    )
    assert InspectionItem.objects.filter(inspection=i).count() == len(checklist.DEFAULT_CHECKLIST)
    events = {e.code: e for e in CreditEvent.objects.filter(inspection=i)}
    assert set(events) == {"unqualified_electrician", "rules_missing", "dispatch_rules_ignored"}  # no theft
    assert events["unqualified_electrician"].count == 2
    assert events["rules_missing"].count is None
    for e in events.values():
        assert (e.status, e.source, e.date, e.inspector_id, e.customer_id, e.unit_id) == (
            "pending",
            "inspection",
            date(2026, 11, 28),
            iw.inspector.pk,
            iw.power_a.pk,
            iw.station_a.pk,
        )
    assert events["rules_missing"].description == "无交接班制度"
    assert AuditEvent.objects.filter(action="credit.event_create").count() == 3
    audit = AuditEvent.objects.get(action="credit.inspection_perform")
    assert audit.changes["unqualified_electricians"] == 2
    # performed once only
    with pytest.raises(ValidationError) as exc:
        svc.inspection_perform(
            actor=actor(iw.inspector),
            inspection=i,
            items=answers(),
            summary="",
            performed_on=TODAY,
            today=TODAY,
        )
    assert "status" in exc.value.message_dict


def test_perform_all_ok_no_events(iw):
    i = special(iw)
    svc.inspection_perform(
        actor=actor(iw.inspector),
        inspection=i,
        items=answers(),
        summary="良好",
        performed_on=TODAY,
        today=TODAY,
    )
    assert not CreditEvent.objects.exists()
    assert not svc.has_defect(i)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"items": answers(electrician=("defect", "无证"))}, "unqualified_electricians"),
        ({"items": answers(), "unqualified_electricians": 1}, "unqualified_electricians"),
        (
            {"items": answers(electrician=("defect", "无证")), "unqualified_electricians": 0},
            "unqualified_electricians",
        ),
        ({"items": answers(rules=("defect", ""))}, "items.3.finding"),
        ({"items": answers()[:-1]}, "items"),
        ({"items": [*answers(), svc.ItemAnswer("facilities", "ok")]}, "items.10.code"),
        ({"items": [*answers()[:-1], svc.ItemAnswer("nope", "ok")]}, "items.9.code"),
        ({"items": answers(facilities=("bad", ""))}, "items.0.result"),
        ({"items": answers(), "performed_on": TODAY + timedelta(days=1)}, "performed_on"),
        ({"items": answers(), "performed_on": date(1999, 12, 31)}, "performed_on"),
        ({"items": answers(), "summary": "x\x00"}, "summary"),
    ],
)
def test_perform_bad_input_writes_nothing(iw, kwargs, field):
    i = special(iw)
    args = {"summary": "", "performed_on": TODAY, **kwargs}
    with pytest.raises(ValidationError) as exc:
        svc.inspection_perform(actor=actor(iw.inspector), inspection=i, today=TODAY, now=NOW, **args)
    assert field in exc.value.message_dict
    i.refresh_from_db()
    assert i.status == "scheduled"
    assert not InspectionItem.objects.exists() and not CreditEvent.objects.exists()


def test_perform_scope(iw):
    i = special(iw)
    for user in (iw.b_inspector, iw.a_agent):
        with pytest.raises(PermissionDenied):
            svc.inspection_perform(
                actor=actor(user), inspection=i, items=answers(), summary="", performed_on=TODAY, today=TODAY
            )
    assert Inspection.objects.get(pk=i.pk).status == "scheduled"


def test_refusal_makes_pending_inspection_refused(iw):
    i = special(iw)
    svc.inspection_refuse(
        actor=actor(iw.inspector),
        inspection=i,
        performed_on=date(2026, 11, 30),
        note="门卫拒绝进入",
        today=TODAY,
    )
    i.refresh_from_db()
    assert (i.status, i.performed_on, i.summary, i.inspector_id) == (
        "refused",
        date(2026, 11, 30),
        "门卫拒绝进入",
        iw.inspector.pk,
    )
    e = CreditEvent.objects.get()
    assert (e.code, e.status, e.source, e.date, e.inspection_id, e.inspector_id) == (
        "inspection_refused",
        "pending",
        "inspection",
        date(2026, 11, 30),
        i.pk,
        iw.inspector.pk,
    )
    with pytest.raises(ValidationError):
        svc.inspection_refuse(actor=actor(iw.inspector), inspection=i, performed_on=TODAY, today=TODAY)
    assert CreditEvent.objects.count() == 1


# ---------------------------------------------------------------- notices


def performed(w, c=None, performed_on=date(2026, 11, 10), **defects):
    i = special(w, c)
    return svc.inspection_perform(
        actor=actor(w.inspector),
        inspection=i,
        items=answers(**(defects or {"facilities": ("defect", "配电室漏水")})),
        summary="",
        performed_on=performed_on,
        today=TODAY,
        now=NOW,
    )


def test_notice_default_deadline_and_number(iw):
    assert current_policy().rectification_days == 30
    i = performed(iw)
    n = svc.notice_issue(actor=actor(iw.inspector), inspection=i, today=TODAY, now=NOW)
    assert n.deadline == date(2026, 12, 10)  # 2026-11-10 + 30 days
    assert n.number == "ZG202612010001"
    assert n.issued_on == TODAY and n.status == "open"
    assert n.requirements == "1. 受电设施运行状况：配电室漏水"
    assert n.unit_id == iw.station_a.pk and n.customer_id == iw.power_a.pk
    with pytest.raises(ValidationError) as exc:
        svc.notice_issue(actor=actor(iw.inspector), inspection=i, today=TODAY)
    assert "inspection" in exc.value.message_dict
    i2 = performed(iw, iw.hv)
    n2 = svc.notice_issue(
        actor=actor(iw.inspector),
        inspection=i2,
        requirements="立即整改",
        deadline=date(2026, 11, 10),
        today=TODAY,
    )
    assert (n2.number, n2.deadline, n2.requirements) == ("ZG202612010002", date(2026, 11, 10), "立即整改")
    assert AuditEvent.objects.filter(action="credit.notice_issue").count() == 2


def test_notice_refusals(iw):
    i = performed(iw)
    with pytest.raises(ValidationError) as exc:
        svc.notice_issue(actor=actor(iw.inspector), inspection=i, deadline=date(2026, 11, 9), today=TODAY)
    assert "deadline" in exc.value.message_dict
    with pytest.raises(PermissionDenied):
        svc.notice_issue(actor=actor(iw.b_inspector), inspection=i, today=TODAY)
    ok = special(iw, iw.hv)
    svc.inspection_perform(
        actor=actor(iw.inspector), inspection=ok, items=answers(), summary="", performed_on=TODAY, today=TODAY
    )
    with pytest.raises(ValidationError) as exc:
        svc.notice_issue(actor=actor(iw.inspector), inspection=ok, today=TODAY)
    assert "items" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        svc.notice_issue(actor=actor(iw.inspector), inspection=special(iw, iw.important), today=TODAY)
    assert "status" in exc.value.message_dict
    assert not RectificationNotice.objects.exists()


# ---------------------------------------------------------------- overdue rectifications


def test_overdue_job_makes_one_active_event_dated_deadline_plus_one(iw):
    from gridcare.jobs import services as jobs

    i = performed(iw)
    n = svc.notice_issue(actor=actor(iw.inspector), inspection=i, deadline=date(2026, 11, 20), today=TODAY)
    # on the deadline itself it is not overdue yet
    assert svc.rectifications_overdue(today=date(2026, 11, 20), now=NOW)["events"] == 0
    assert RectificationNotice.objects.get().status == "open"
    job = jobs.start("credit.rectifications_overdue", {"date": "2026-11-21"}, inline=True)
    assert job.result == {"today": "2026-11-21", "events": 1}
    again = jobs.start("credit.rectifications_overdue", {"date": "2026-11-22"}, inline=True)
    assert again.result == {"today": "2026-11-22", "events": 0}
    n.refresh_from_db()
    assert n.status == "overdue"
    e = CreditEvent.objects.get(code="rectification_overdue")
    assert (e.status, e.source, e.date, e.source_key, e.inspection_id, e.inspector_id, e.recorded_by_id) == (
        "active",
        "inspection",
        date(2026, 11, 21),
        f"rectification:{n.pk}",
        i.pk,
        iw.inspector.pk,
        None,
    )
    assert AuditEvent.objects.filter(action="credit.notice_overdue", object_id=str(n.pk)).count() == 1
    # done late: the notice is done, the event stays
    svc.notice_done(actor=actor(iw.inspector), notice=n, done_on=date(2026, 11, 25), today=TODAY)
    n.refresh_from_db()
    assert (n.status, n.done_on, n.verified_by_id) == ("done", date(2026, 11, 25), iw.inspector.pk)
    assert CreditEvent.objects.filter(code="rectification_overdue", status="active").count() == 1


def test_done_before_deadline_no_event(iw):
    i = performed(iw)
    n = svc.notice_issue(actor=actor(iw.inspector), inspection=i, today=TODAY)  # deadline 2026-12-10
    svc.notice_done(actor=actor(iw.cmanager), notice=n, done_on=date(2026, 11, 30), today=TODAY)
    assert svc.rectifications_overdue(today=date(2027, 1, 1), now=NOW)["events"] == 0
    assert not CreditEvent.objects.filter(code="rectification_overdue").exists()
    n.refresh_from_db()
    assert n.status == "done"


def test_done_late_before_the_job_ran_still_makes_the_event(iw):
    """Put right on 2026-12-15, five days after the 2026-12-10 deadline, and recorded before the daily job saw the
    notice overdue: the event is made now, dated deadline + 1 = 2026-12-11, once (the job adds none later)."""
    i = performed(iw)
    n = svc.notice_issue(actor=actor(iw.inspector), inspection=i, today=TODAY)  # deadline 2026-12-10
    later = date(2026, 12, 20)
    svc.notice_done(actor=actor(iw.inspector), notice=n, done_on=date(2026, 12, 15), today=later)
    events = CreditEvent.objects.filter(code="rectification_overdue")
    assert [(e.date, e.status, e.source_key) for e in events] == [
        (date(2026, 12, 11), "active", f"rectification:{n.pk}")
    ]
    assert svc.rectifications_overdue(today=date(2027, 1, 1), now=NOW)["events"] == 0
    assert events.count() == 1


def test_notice_done_refusals(iw):
    i = performed(iw)
    n = svc.notice_issue(actor=actor(iw.inspector), inspection=i, today=TODAY)
    with pytest.raises(ValidationError) as exc:
        svc.notice_done(actor=actor(iw.inspector), notice=n, done_on=TODAY + timedelta(days=1), today=TODAY)
    assert "done_on" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        svc.notice_done(actor=actor(iw.inspector), notice=n, done_on=date(2026, 11, 9), today=TODAY)
    assert "done_on" in exc.value.message_dict
    with pytest.raises(PermissionDenied):
        svc.notice_done(actor=actor(iw.a_agent), notice=n, done_on=TODAY, today=TODAY)
    svc.notice_done(actor=actor(iw.inspector), notice=n, done_on=TODAY, today=TODAY)
    with pytest.raises(ValidationError) as exc:
        svc.notice_done(actor=actor(iw.inspector), notice=n, done_on=TODAY, today=TODAY)
    assert "status" in exc.value.message_dict


def test_mine_lists_due_and_overdue_of_the_units(iw):
    late = special(iw, due=date(2026, 11, 1))
    today = special(iw, iw.hv, due=TODAY)
    special(iw, iw.important, due=date(2026, 12, 2))  # tomorrow
    got = list(svc.inspections_mine(iw.inspector, today=TODAY))
    assert got == [late, today]
    assert list(svc.inspections_mine(iw.b_inspector, today=TODAY)) == []
    assert list(svc.inspections_mine(iw.a_agent, today=TODAY)) == []  # no credit.record
