"""Rating runs (issue 17 §3): what a run stores is what the rule gives (expected values by hand), history across
runs, the reasons pointer, the standing, the notifications, one monthly run per period, the single-customer run."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.credit import runs
from gridcare.credit.models import CreditEvent, CreditRun, CreditScore, CreditStanding, SiteAssessment
from gridcare.jobs import services as jobs
from gridcare.notify.models import Notification
from gridcare.notify.outbox import notices_render_pending

from .conftest import NOW, TODAY

NOV = date(2026, 11, 30)
DEC = date(2026, 12, 31)


def event(customer, code, day, *, severity=None, count=None, status="active"):
    return CreditEvent.objects.create(
        customer=customer,
        unit_id=customer.unit_id,
        code=code,
        date=day,
        severity=severity,
        count=count,
        source="staff",
        status=status,
        recorded_at=NOW,
        updated_at=NOW,
    )


def assessment(customer, conduct, potential, day, status="approved"):
    return SiteAssessment.objects.create(
        customer=customer,
        unit_id=customer.unit_id,
        conduct=Decimal(conduct),
        potential=Decimal(potential),
        assessed_on=day,
        status=status,
        created_at=NOW,
    )


def monthly(as_of, today=TODAY):
    run = runs.monthly_run_create(actor=Actor(), as_of=as_of, today=today, now=NOW)
    runs.execute(run, now=NOW)
    notices_render_pending()  # what the notify job does within the minute
    run.refresh_from_db()
    return run


def score(run, customer):
    return CreditScore.objects.get(run=run, customer=customer)


@pytest.fixture
def rated(cw):
    """power_a: arrears severity 2 (2026-05-20) and an approved assessment 4/3; cust_a (照明户): theft; cust_b
    nothing. A pending event and an older approved assessment and a pending newer one do not count."""
    w = cw
    w.arrears = event(w.power_a, "arrears", date(2026, 5, 20), severity=2)
    event(w.power_a, "theft", date(2026, 6, 1), status="pending")
    assessment(w.power_a, "2", "2", date(2025, 6, 1))
    assessment(w.power_a, "4", "3", date(2026, 6, 1))
    assessment(w.power_a, "5", "5", date(2026, 7, 1), status="pending")
    assessment(w.power_a, "1", "1", date(2026, 12, 15))  # after as_of
    w.theft = event(w.cust_a, "theft", date(2026, 8, 1))
    return w


def test_monthly_run_stores_what_the_rule_gives(rated):
    w = rated
    run = monthly(NOV)
    assert (run.status, run.kind, run.period, run.as_of) == ("done", "monthly", "2026-11", NOV)
    p = score(run, w.power_a)
    # payment 30 − 20 = 10 (no clean year: arrears); safety 20 + 10 (three clean years) clamped to 20;
    # legal 30; cooperation 10; conduct 4; potential 3 → 77 → A.
    assert (p.rated_class, p.payment, p.safety, p.legal, p.cooperation, p.conduct, p.potential) == (
        "power",
        Decimal("10.0"),
        Decimal("20.0"),
        Decimal("30.0"),
        Decimal("10.0"),
        Decimal("4"),
        Decimal("3"),
    )
    assert (p.total, p.grade) == (Decimal("77.0"), "A")
    assert p.reasons == [
        {
            "dimension": "payment",
            "code": "arrears",
            "date": "2026-05-20",
            "points": -20,
            "event_id": w.arrears.pk,
        },
        {"dimension": "safety", "code": "clean_three_years", "date": None, "points": 10, "event_id": None},
    ]
    a = score(run, w.cust_a)
    # 照明户: payment 30 + 5 clamped 30 → 50; legal 30 − 30 = 0 → 0; total 50, legal 0 → D.
    assert (a.rated_class, a.payment, a.legal, a.safety, a.conduct, a.total, a.grade) == (
        "lighting",
        Decimal("50.0"),
        Decimal("0.0"),
        None,
        None,
        Decimal("50.0"),
        "D",
    )
    assert {
        "dimension": "legal",
        "code": "theft",
        "date": "2026-08-01",
        "points": -30,
        "event_id": w.theft.pk,
    } in (a.reasons)
    b = score(run, w.cust_b)
    assert (b.total, b.grade) == (Decimal("100.0"), "AAA")  # 50 + 50
    assert run.customers_rated == CreditScore.objects.filter(run=run).count()
    assert run.grade_counts["D"] >= 1 and run.grade_counts["A"] >= 1
    st = CreditStanding.objects.get(customer=w.power_a)
    assert (st.grade, st.total, st.as_of, st.previous_grade, st.score_id) == (
        "A",
        Decimal("77.0"),
        NOV,
        "",
        p.pk,
    )
    assert AuditEvent.objects.filter(action="credit.run_start", object_id=str(run.pk)).exists()


def test_history_and_reasons_pointer(rated):
    w = rated
    nov = monthly(NOV)
    dec = monthly(DEC, today=date(2027, 1, 1))
    assert CreditScore.objects.filter(customer=w.power_a).count() == 2  # history kept
    p_nov, p_dec = score(nov, w.power_a), score(dec, w.power_a)
    assert p_dec.reasons is None and p_dec.reasons_from_id == p_nov.pk
    assert p_dec.digest == p_nov.digest
    assert dec.reasons_stored == 0
    # Third month: a new event → reasons stored again; the month after points at that one.
    event(w.power_a, "accident", date(2027, 1, 10))
    jan = monthly(date(2027, 1, 31), today=date(2027, 2, 1))
    p_jan = score(jan, w.power_a)
    assert p_jan.reasons is not None and p_jan.reasons_from_id is None
    assert any(r["code"] == "accident" for r in p_jan.reasons)
    assert jan.reasons_stored == 1
    feb = monthly(date(2027, 2, 28), today=date(2027, 3, 1))
    assert score(feb, w.power_a).reasons_from_id == p_jan.pk
    # A pointer to a pointer: still the score that stored them.
    mar = monthly(date(2027, 3, 31), today=date(2027, 4, 1))
    assert score(mar, w.power_a).reasons_from_id == p_jan.pk


def test_one_monthly_run_per_period_and_failed_rerun(rated):
    run = monthly(NOV)
    with pytest.raises(ValidationError) as exc:
        runs.monthly_run_create(actor=Actor(), as_of=date(2026, 11, 15), today=TODAY, now=NOW)
    assert "as_of" in exc.value.message_dict
    CreditRun.objects.filter(pk=run.pk).update(status="failed")
    again = runs.monthly_run_create(actor=Actor(), as_of=NOV, today=TODAY, now=NOW)
    assert again.pk == run.pk and again.status == "pending"
    runs.execute(again, now=NOW)
    assert CreditScore.objects.filter(run=run).count() == CreditRun.objects.get(pk=run.pk).customers_rated
    with pytest.raises(ValidationError):
        runs.monthly_run_create(actor=Actor(), as_of=date(2026, 12, 2), today=TODAY, now=NOW)  # future


def test_default_as_of_is_the_end_of_last_month():
    assert runs.monthly_as_of(date(2026, 12, 1)) == date(2026, 11, 30)
    assert runs.monthly_as_of(date(2024, 3, 1)) == date(2024, 2, 29)
    assert runs.monthly_as_of(date(2027, 1, 15)) == date(2026, 12, 31)


def test_standing_previous_grade_and_drop_notices(rated, django_capture_on_commit_callbacks):
    w = rated
    w.cust_a.customer_manager = w.cmanager
    w.cust_a.save()
    with django_capture_on_commit_callbacks(execute=True):
        monthly(NOV)
    # First rating: cust_a starts at D (measure deposit_or_prepaid notified), no drop SMS (no previous grade).
    assert Notification.objects.filter(kind="credit_measure", customer=w.cust_a).exists()
    assert not Notification.objects.filter(kind="credit_grade_drop").exists()
    assert not Notification.objects.filter(kind="credit_measure", customer=w.power_a).exists()  # A: none
    # December: power_a loses safety (trip_substation −20, no clean three years) and the assessment of 2026-12-15
    # (1/1) now counts: 10 + 0 + 30 + 10 + 1 + 1 = 52 → C, two grades down.
    event(w.power_a, "trip_substation", date(2026, 12, 5))
    with django_capture_on_commit_callbacks(execute=True):
        dec = monthly(DEC, today=date(2027, 1, 1))
    assert (score(dec, w.power_a).total, score(dec, w.power_a).grade) == (Decimal("52.0"), "C")
    st = CreditStanding.objects.get(customer=w.power_a)
    assert (st.grade, st.previous_grade, st.changed_on) == ("C", "A", DEC)
    sms = Notification.objects.get(kind="credit_grade_drop")
    assert sms.recipient == "13600000002" and "东关机械厂" in sms.body and "A级降至C级" in sms.body
    notice = Notification.objects.filter(kind="credit_measure", customer=w.power_a)
    assert notice.exists() and "分次结算" in notice.first().body
    # cust_a stays D: no new notices for it; standing unchanged grade keeps its previous_grade/changed_on.
    assert Notification.objects.filter(kind="credit_measure", customer=w.cust_a).count() == 1
    sa = CreditStanding.objects.get(customer=w.cust_a)
    assert (sa.grade, sa.previous_grade, sa.changed_on, sa.as_of) == ("D", "", None, DEC)


def test_drop_to_d_notifies_and_one_grade_does_not(rated, django_capture_on_commit_callbacks):
    w = rated
    w.cust_b.customer_manager = w.cmanager
    w.cust_b.save()
    with django_capture_on_commit_callbacks(execute=True):
        monthly(NOV)
    # cust_b AAA → D (facility damage: legal 0), power_a A → B (cooperation −10, assessment 1/1 of 2026-12-15:
    # 10 + 20 + 30 + 0 + 1 + 1 = 62): one grade, no SMS.
    event(w.cust_b, "facility_damage", date(2026, 12, 3))
    event(w.power_a, "contract_bad_faith", date(2026, 12, 3))
    with django_capture_on_commit_callbacks(execute=True):
        dec = monthly(DEC, today=date(2027, 1, 1))
    assert score(dec, w.power_a).grade == "B" and score(dec, w.power_a).total == Decimal("62.0")
    drops = Notification.objects.filter(kind="credit_grade_drop")
    assert drops.count() == 1 and "李四" in drops.get().body and "降至D级" in drops.get().body
    assert not Notification.objects.filter(kind="credit_measure", customer=w.power_a).exists()


def test_drop_without_manager_phone_is_skipped(rated, django_capture_on_commit_callbacks):
    w = rated
    with django_capture_on_commit_callbacks(execute=True):
        monthly(NOV)
    event(w.cust_b, "theft", date(2026, 12, 3))  # cust_b has no customer manager
    with django_capture_on_commit_callbacks(execute=True):
        monthly(DEC, today=date(2027, 1, 1))
    assert not Notification.objects.filter(kind="credit_grade_drop").exists()


def test_single_customer_run_updates_the_standing(rated):
    w = rated
    monthly(NOV)
    event(w.power_a, "concealment", date(2026, 11, 30))
    s = runs.customer_rate(actor=Actor(user=w.cmanager), customer=w.power_a, as_of=TODAY, now=NOW)
    # safety 20 − 10 = 10 (no clean three years) → 10 + 10 + 30 + 10 + 4 + 3 = 67 → B.
    assert (s.total, s.grade, s.run.kind, s.run.customer_id) == (Decimal("67.0"), "B", "single", w.power_a.pk)
    assert CreditScore.objects.filter(run=s.run).count() == 1
    st = CreditStanding.objects.get(customer=w.power_a)
    assert (st.score_id, st.grade, st.previous_grade, st.as_of) == (s.pk, "B", "A", TODAY)
    assert AuditEvent.objects.filter(action="credit.customer_rate", customer_id=w.power_a.pk).exists()
    # An older as_of does not take the standing back.
    old = runs.customer_rate(actor=Actor(), customer=w.power_a, as_of=date(2026, 10, 31), now=NOW)
    assert CreditStanding.objects.get(customer=w.power_a).score_id == s.pk != old.pk
    with pytest.raises(ValidationError):
        runs.customer_rate(actor=Actor(), customer=w.power_a, as_of=date(2019, 1, 1), now=NOW)


def test_jobs_and_cli(rated, capsys):
    w = rated
    job = jobs.start(
        "credit.monthly_run", {"as_of": "2026-11-30"}, actor=Actor(user=w.a_manager), inline=True
    )
    assert job.state == "succeeded" and job.result["customers_rated"] >= 3 and job.done == job.total
    run = CreditRun.objects.get(pk=job.result["run_id"])
    assert run.job_id == job.pk and run.status == "done"
    with pytest.raises(ValidationError):
        jobs.create("credit.monthly_run", {"as_of": "2026-11-01"}, actor=Actor())
    with pytest.raises(ValidationError):
        jobs.create("credit.monthly_run", {"as_of": "not-a-day"}, actor=Actor())
    job = jobs.start(
        "credit.rate_customer",
        {"customer_id": w.power_a.pk, "as_of": "2026-12-01"},
        actor=Actor(),
        inline=True,
    )
    assert job.result["grade"] == "A"
    with pytest.raises(ValidationError):  # another unit's customer for an A-bureau manager
        jobs.create("credit.rate_customer", {"customer_id": w.cust_b.pk}, actor=Actor(user=w.a_manager))
    call_command("credit_run", "--as-of", "2026-10-31", "--inline")
    out = capsys.readouterr().out
    assert "2026-10" in out and "rated" in out
    call_command("credit_run", "--customer", str(w.cust_a.pk), "--as-of", "2026-12-01", "--inline")
    assert "grade D" in capsys.readouterr().out


def test_schedule_declared():
    from gridcare.jobs.registry import SCHEDULES

    s = SCHEDULES["credit.monthly_run"]
    assert s.crontab == {"minute": "0", "hour": "3", "day_of_month": "1"}
