"""Schedules: the defaults are installed once (edits kept), catch-up runs a schedule whose last run is older
than its period, and administrators edit, pause, resume and run them from the 后台任务 page, audited; bad input
answers a form error naming the field and writes nothing; everyone else gets 404."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django_celery_beat.models import PeriodicTask

from gridcare.core.models import AuditEvent
from gridcare.jobs import schedules
from gridcare.jobs.choices import JobState
from gridcare.jobs.models import Job

SH = ZoneInfo("Asia/Shanghai")
DEFAULTS = {
    "collections.run",
    "prepaid.estimate",
    "payments.wechat_certificates",
    "refunds.retry",
    "notify.dispatch",
    "jobs.cleanup_stale",
    "payments.orders_sweep",
    "payments.statements_download",
    "core.purge_job_files",
    "outages.start_due",
    "outages.voltage_monthly",
    "outages.frequent",
    "service.clock",
    "hall.terminals_sweep",
    "hall.expire_remote",
    "hall.appointments_no_show",
    "hall.close_past_days",
    "credit.inspections_schedule",
    "credit.rectifications_overdue",
    "credit.derive_events",
    "credit.monthly_run",
}


@pytest.mark.django_db
def test_credit_schedules():
    """Issue 17: inspections scheduled at 01:30, overdue rectifications at 00:20, the ledger derivation at 02:30
    and the monthly rating run at 03:00 on the 1st, China time."""
    schedules.ensure_schedules()
    when = {
        name: (t.crontab.minute, t.crontab.hour, t.crontab.timezone.key, t.crontab.day_of_month)
        for name, t in (
            (n, PeriodicTask.objects.get(name=n)) for n in sorted(DEFAULTS) if n.startswith("credit.")
        )
    }
    assert when["credit.inspections_schedule"] == ("30", "1", "Asia/Shanghai", "*")
    assert when["credit.rectifications_overdue"] == ("20", "0", "Asia/Shanghai", "*")
    assert when["credit.derive_events"] == ("30", "2", "Asia/Shanghai", "*")
    # the monthly run at 03:00 on the 1st reads the register as the 02:30 derivation left it
    assert when["credit.monthly_run"] == ("0", "3", "Asia/Shanghai", "1")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.mark.django_db
def test_defaults_installed_once_and_edits_kept():
    assert set(schedules.ensure_schedules()) == DEFAULTS
    dunning = PeriodicTask.objects.get(name="collections.run")
    assert (dunning.crontab.minute, dunning.crontab.hour, dunning.crontab.timezone.key) == (
        "0",
        "7",
        "Asia/Shanghai",
    )
    prepaid = PeriodicTask.objects.get(name="prepaid.estimate")
    assert (prepaid.crontab.minute, prepaid.crontab.hour) == ("0", "6")
    dispatch = PeriodicTask.objects.get(name="notify.dispatch")
    assert (dispatch.interval.every, dispatch.interval.period) == (1, "minutes")
    assert PeriodicTask.objects.get(name="jobs.cleanup_stale").interval.every == 1
    purge = PeriodicTask.objects.get(name="core.purge_job_files").interval
    assert (purge.every, purge.period) == (1, "hours")
    certificates = PeriodicTask.objects.get(name="payments.wechat_certificates").interval
    assert (certificates.every, certificates.period) == (12, "hours")
    retry = PeriodicTask.objects.get(name="refunds.retry").interval
    assert (retry.every, retry.period) == (10, "minutes")
    assert dunning.task == "gridcare.jobs.scheduled" and '"kind": "collections.run"' in dunning.kwargs
    dispatch.enabled = False
    dispatch.save()
    assert schedules.ensure_schedules() == []
    assert (
        PeriodicTask.objects.count() == len(DEFAULTS)
        and not PeriodicTask.objects.get(name="notify.dispatch").enabled
    )


@pytest.mark.django_db
def test_catch_up_when_the_last_run_is_older_than_the_period():
    schedules.ensure_schedules()
    task = PeriodicTask.objects.get(name="collections.run")  # daily 07:00 Shanghai
    assert schedules.needs_catch_up(task, now=at(2027, 1, 10, 6, 0))  # never ran
    job = Job.objects.create(kind="collections.run", schedule="collections.run", state=JobState.SUCCEEDED)
    Job.objects.filter(pk=job.pk).update(created_at=at(2027, 1, 9, 7, 0, 5))
    assert not schedules.needs_catch_up(task, now=at(2027, 1, 10, 6, 59))  # today's 07:00 not reached yet
    assert schedules.needs_catch_up(task, now=at(2027, 1, 10, 7, 1))  # today's 07:00 missed
    task.enabled = False
    assert not schedules.needs_catch_up(task, now=at(2027, 1, 10, 7, 1))  # paused: nothing to catch up


@pytest.mark.django_db
def test_scheduled_run_computes_today_at_run_time(monkeypatch):
    """The dunning schedule carries no date: the job reads the clock when it runs."""
    from django.utils import timezone

    from gridcare.jobs import services

    seen = []
    monkeypatch.setattr(timezone, "localdate", lambda *a: seen.append("clock") or date(2027, 3, 1))
    monkeypatch.setattr(
        "gridcare.payments.collections.services.dunning_days",
        lambda *, start, end, actor=None, now=None: seen.append((start, end)) or {"reminders": 2},
    )
    job = services.run_scheduled("collections.run", schedule="collections.run", params=None, task_id="t-1")
    assert job.state == JobState.SUCCEEDED and job.created_by is None and job.schedule == "collections.run"
    assert (date(2027, 3, 1), date(2027, 3, 1)) in seen
    assert job.result["date"] == "2027-03-01" and job.result["reminders"] == 2
    # The same beat message delivered again finds its row: no second row, not run twice.
    assert (
        services.run_scheduled("collections.run", schedule="collections.run", params=None, task_id="t-1")
        is None
    )
    assert Job.objects.count() == 1


@pytest.fixture
def admin_client(world, login):
    schedules.ensure_schedules()
    return login(world.admin)


def test_page_lists_schedules_with_last_run_and_next_run(world, admin_client):
    job = Job.objects.create(
        kind="prepaid.estimate", schedule="prepaid.estimate", state=JobState.FAILED, error="x"
    )
    page = admin_client.get("/jobs/schedules/").content.decode()
    for name in DEFAULTS:
        assert f'data-testid="schedule-{name}"' in page
    assert f'href="/jobs/{job.pk}/">失败</a>' in page
    assert "从未运行" in page and "cron 0 7 * * * (Asia/Shanghai)" in page


def test_edit_crontab_audited(world, admin_client):
    resp = admin_client.post(
        "/jobs/schedules/collections.run/",
        {
            "mode": "crontab",
            "minute": "30",
            "hour": "8",
            "day_of_month": "*",
            "month_of_year": "*",
            "day_of_week": "1-5",
        },
    )
    assert resp.status_code == 302
    c = PeriodicTask.objects.get(name="collections.run").crontab
    assert (c.minute, c.hour, c.day_of_week, c.timezone.key) == ("30", "8", "1-5", "Asia/Shanghai")
    ev = AuditEvent.objects.get(action="schedule.update")
    assert ev.object_id == "collections.run"
    assert ev.changes["schedule"] == ["cron 0 7 * * * (Asia/Shanghai)", "cron 30 8 * * 1-5 (Asia/Shanghai)"]


def test_edit_interval(world, admin_client):
    resp = admin_client.post(
        "/jobs/schedules/notify.dispatch/", {"mode": "interval", "every": "5", "period": "minutes"}
    )
    assert resp.status_code == 302
    t = PeriodicTask.objects.get(name="notify.dispatch")
    assert (t.interval.every, t.interval.period, t.crontab) == (5, "minutes", None)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"mode": "crontab", "minute": "61", "hour": "7"}, "minute", "不是有效的 crontab 取值：61"),
        ({"mode": "crontab", "minute": "0", "hour": "25"}, "hour", "不是有效的 crontab 取值：25"),
        ({"mode": "crontab", "minute": "0", "hour": "7", "day_of_week": "funday"}, "day_of_week", "funday"),
        ({"mode": "interval", "every": "0", "period": "minutes"}, "every", "间隔应为 1 到 10000 之间的整数"),
        ({"mode": "interval", "period": "minutes"}, "every", "请填写间隔"),
        ({"mode": "interval", "every": "2", "period": "fortnights"}, "period", "fortnights"),
        ({"mode": "hourly"}, "mode", "hourly"),
        # Valid field by field, but 31 February never comes: beat could not load it (review finding).
        (
            {"mode": "crontab", "minute": "0", "hour": "7", "day_of_month": "31", "month_of_year": "2"},
            "day_of_month",
            "这个日期在所选月份中从不出现：31 日 / 2 月",
        ),
        # Arabic-Indic and full-width digits pass str.isdigit() but are no crontab value.
        ({"mode": "crontab", "minute": "٣", "hour": "7"}, "minute", "不是有效的 crontab 取值：٣"),
        ({"mode": "crontab", "minute": "0", "hour": "７"}, "hour", "不是有效的 crontab 取值：７"),
    ],
)
def test_bad_input_is_a_form_error_and_writes_nothing(world, admin_client, data, field, message):
    before = PeriodicTask.objects.get(name="collections.run").crontab_id
    resp = admin_client.post("/jobs/schedules/collections.run/", data)
    assert resp.status_code == 400
    errors = resp.context["form"].errors
    assert field in errors and message in " ".join(errors[field])
    assert PeriodicTask.objects.get(name="collections.run").crontab_id == before
    assert not AuditEvent.objects.filter(action="schedule.update").exists()


def test_pause_resume_and_run_now_audited(world, admin_client):
    admin_client.post("/jobs/schedules/prepaid.estimate/toggle/", {"enabled": "0"})
    assert not PeriodicTask.objects.get(name="prepaid.estimate").enabled
    admin_client.post("/jobs/schedules/prepaid.estimate/toggle/", {"enabled": "1"})
    assert PeriodicTask.objects.get(name="prepaid.estimate").enabled
    assert list(
        AuditEvent.objects.filter(action__startswith="schedule.")
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["schedule.pause", "schedule.resume"]
    resp = admin_client.post("/jobs/schedules/jobs.cleanup_stale/run/")
    job = Job.objects.get(schedule="jobs.cleanup_stale")
    assert resp.status_code == 302 and resp["Location"] == f"/jobs/{job.pk}/"
    assert job.state == JobState.SUCCEEDED and job.created_by == world.admin
    assert job.result == {"requeued": [], "failed": [], "pruned": 0}
    assert AuditEvent.objects.get(action="schedule.run").changes == {
        "kind": "jobs.cleanup_stale",
        "job": job.pk,
    }


def test_run_now_with_broker_down_fails_the_row_and_writes_no_audit(world, admin_client, broker_down):
    page = admin_client.post("/jobs/schedules/jobs.cleanup_stale/run/", follow=True).content.decode()
    assert "后台任务引擎的消息代理（broker）不可用" in page
    job = Job.objects.get()
    assert (job.state, job.error) == (JobState.FAILED, "broker unavailable")
    assert not AuditEvent.objects.filter(action="schedule.run").exists()


@pytest.mark.parametrize("who", ["a_manager", "a_clerk", "portal_user"])
def test_schedules_are_for_administrators_only(world, login, who):
    schedules.ensure_schedules()
    c = login(getattr(world, who))
    assert c.get("/jobs/schedules/").status_code == 404
    assert (
        c.post(
            "/jobs/schedules/collections.run/", {"mode": "interval", "every": "1", "period": "days"}
        ).status_code
        == 404
    )
    assert c.post("/jobs/schedules/collections.run/toggle/", {"enabled": "0"}).status_code == 404
    assert c.post("/jobs/schedules/collections.run/run/").status_code == 404
    assert PeriodicTask.objects.get(name="collections.run").enabled and not Job.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="schedule.").exists()


def test_a_crontab_that_never_fires_does_not_break_the_page_or_catch_up(world, admin_client):
    """A row written before the form refused it (or by hand): the page lists it without a next run, and
    catch-up skips it instead of raising (beat would not start)."""
    from django_celery_beat.models import CrontabSchedule

    schedules.ensure_schedules()
    task = PeriodicTask.objects.get(name="collections.run")
    task.crontab = CrontabSchedule.objects.create(
        minute="0", hour="7", day_of_month="31", month_of_year="2", timezone="Asia/Shanghai"
    )
    task.save()
    assert schedules.next_run(task, now=at(2027, 1, 10, 6, 0)) is None
    assert admin_client.get("/jobs/schedules/").status_code == 200

    from gridcare.celery import app
    from gridcare.jobs.beat import Scheduler

    sched = Scheduler.__new__(Scheduler)  # catch_up only reads the table and sends through apply_async
    sched.app = app
    sent = []
    sched.apply_async = lambda entry, advance=False: sent.append(entry.name)
    sched.Entry = lambda task, app=None: type("E", (), {"name": task.name})()
    sched.all_as_schedule = dict
    assert "collections.run" not in sched.catch_up()
    assert "collections.run" not in sent
