"""Schedules (django-celery-beat PeriodicTask rows): installing the defaults, catch-up, and the administrators'
edits from the 后台任务 page (the Django admin is off in production).

Each schedule is a PeriodicTask named after its job kind, whose task is `gridcare.jobs.scheduled` with kwargs
{"kind", "schedule"}: every firing is one Job row (created_by None) tagged with the schedule, so the page shows
the last run's outcome. Crontabs are in Asia/Shanghai.
"""

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks

from gridcare.core.audit import Actor, audit_record
from gridcare.core.permissions import Role
from gridcare.core.scoping import PermissionDenied

from . import registry
from .models import Job
from .tasks import SCHEDULED_TASK

TZ = "Asia/Shanghai"
CRON_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
PERIODS = (IntervalSchedule.SECONDS, IntervalSchedule.MINUTES, IntervalSchedule.HOURS, IntervalSchedule.DAYS)


def _crontab(fields: dict) -> CrontabSchedule:
    full = {f: str(fields.get(f, "*")) for f in CRON_FIELDS}
    obj, _created = CrontabSchedule.objects.get_or_create(timezone=TZ, **full)
    return obj


def _interval(every: int, period: str) -> IntervalSchedule:
    obj, _created = IntervalSchedule.objects.get_or_create(every=every, period=period)
    return obj


def ensure_schedules() -> list[str]:
    """Install every declared default schedule that is missing (an existing one, maybe edited, is left as it
    is). Idempotent; called when beat starts and by `gridcare jobs_schedules`. Returns the names created."""
    created = []
    for d in registry.SCHEDULES.values():
        if PeriodicTask.objects.filter(name=d.name).exists():
            continue
        with transaction.atomic():
            PeriodicTask.objects.create(
                name=d.name,
                task=SCHEDULED_TASK,
                kwargs=_kwargs(d.kind, d.name, d.params),
                crontab=_crontab(d.crontab) if d.crontab is not None else None,
                interval=_interval(d.every, d.period) if d.every is not None else None,
                description=str(registry.get(d.kind).label),
            )
        created.append(d.name)
    return created


def _kwargs(kind: str, name: str, params: dict | None) -> str:
    import json

    return json.dumps({"kind": kind, "schedule": name, **({"params": params} if params else {})})


def scheduled_tasks():
    return PeriodicTask.objects.filter(task=SCHEDULED_TASK).select_related("crontab", "interval")


def kind_of(task: PeriodicTask) -> str:
    import json

    try:
        return str(json.loads(task.kwargs or "{}").get("kind") or task.name)
    except ValueError:
        return task.name


def params_of(task: PeriodicTask) -> dict | None:
    import json

    try:
        return json.loads(task.kwargs or "{}").get("params")
    except ValueError:
        return None


def last_run(name: str) -> Job | None:
    return Job.objects.filter(schedule=name).order_by("-created_at", "-pk").first()


def needs_catch_up(task: PeriodicTask, *, now: datetime | None = None) -> bool:
    """The schedule's last run (its newest Job row) is older than its period: a firing was missed (or it never
    ran). `schedule.is_due(last)` says whether a scheduled time passed since `last`."""
    if not task.enabled:
        return False
    sched = task.schedule  # ValueError for a crontab that never fires: it has nothing to catch up
    last = last_run(task.name)
    if last is None:
        return True
    if now is not None:
        sched.nowfun = lambda: now
    return bool(sched.is_due(last.created_at).is_due)


def next_run(task: PeriodicTask, *, now: datetime | None = None) -> datetime | None:
    if not task.enabled:
        return None
    now = now or timezone.now()
    try:
        sched = task.schedule
    except ValueError:  # a crontab that never fires (written before the form refused it): no next run
        return None
    sched.nowfun = lambda: now
    last = task.last_run_at or now
    remaining = sched.remaining_estimate(last)
    return max(now, now + remaining)


def describe(task: PeriodicTask) -> str:
    if task.crontab_id:
        c = task.crontab
        return f"cron {c.minute} {c.hour} {c.day_of_month} {c.month_of_year} {c.day_of_week} ({c.timezone})"
    if task.interval_id:
        return _("每 %(n)s %(p)s") % {"n": task.interval.every, "p": task.interval.get_period_display()}
    return "—"


# ---------------------------------------------------------------- administrators' edits (audited)


def _require_admin(actor: Actor) -> None:
    user = actor.user
    if user is None or getattr(user, "role", None) != Role.ADMIN or not user.unit_id or not user.is_active:
        raise PermissionDenied


def schedule_get(name: str) -> PeriodicTask:
    task = scheduled_tasks().filter(name=name).first()
    if task is None:
        from django.http import Http404

        raise Http404
    return task


def schedule_update(
    *,
    actor: Actor,
    task: PeriodicTask,
    crontab: dict | None = None,
    every: int | None = None,
    period: str | None = None,
) -> PeriodicTask:
    """Replace the schedule's timing by a crontab (Asia/Shanghai) or an interval; bad fields → ValidationError
    naming the field, nothing written."""
    from django_celery_beat import validators

    _require_admin(actor)
    errors: dict[str, list[str]] = {}
    if crontab is not None:
        check = {
            "minute": validators.minute_validator,
            "hour": validators.hour_validator,
            "day_of_week": validators.day_of_week_validator,
            "day_of_month": validators.day_of_month_validator,
            "month_of_year": validators.month_of_year_validator,
        }
        for f in CRON_FIELDS:
            value = str(crontab.get(f, "*")).strip() or "*"
            crontab[f] = value
            try:
                if not value.isascii():  # '٣' or '３' pass the validators' isdigit() but are no crontab value
                    raise ValidationError(value)
                check[f](value)
            except ValidationError:
                errors[f] = [_("不是有效的 crontab 取值：%(v)s") % {"v": value}]
        if not errors:
            # Each field may be valid alone and the whole never fire (31 February): celery refuses it, and so do we.
            from celery.schedules import crontab as celery_crontab

            try:
                celery_crontab(**{f: crontab[f] for f in CRON_FIELDS})
            except ValueError:
                errors["day_of_month"] = [
                    _("这个日期在所选月份中从不出现：%(d)s 日 / %(m)s 月")
                    % {"d": crontab["day_of_month"], "m": crontab["month_of_year"]}
                ]
    else:
        if not isinstance(every, int) or every < 1 or every > 10_000:
            errors["every"] = [_("间隔应为 1 到 10000 之间的整数")]
        if period not in PERIODS:
            errors["period"] = [_("间隔单位应为秒、分钟、小时或天")]
    if errors:
        raise ValidationError(errors)
    before = describe(task)
    with transaction.atomic():
        if crontab is not None:
            task.crontab, task.interval = _crontab(crontab), None
        elif every is not None and period is not None:  # both checked above
            task.crontab, task.interval = None, _interval(every, period)
        else:
            raise ValidationError({"every": [_("间隔应为 1 到 10000 之间的整数")]})
        task.save()  # its post_save signal tells beat the schedule changed
        audit_record(
            actor=actor,
            action="schedule.update",
            object_type="django_celery_beat.periodictask",
            object_id=task.name,
            changes={"schedule": [before, describe(task)]},
        )
    return task


def schedule_set_enabled(*, actor: Actor, task: PeriodicTask, enabled: bool) -> PeriodicTask:
    _require_admin(actor)
    if task.enabled == enabled:
        return task
    with transaction.atomic():
        task.enabled = enabled
        task.save()
        audit_record(
            actor=actor,
            action="schedule.resume" if enabled else "schedule.pause",
            object_type="django_celery_beat.periodictask",
            object_id=task.name,
            changes={"enabled": [not enabled, enabled]},
        )
    PeriodicTasks.update_changed()
    return task


def schedule_run_now(*, actor: Actor, task: PeriodicTask) -> Job:
    """Run the schedule's kind now (one Job row tagged with the schedule, started by this administrator)."""
    from .services import start_scheduled

    _require_admin(actor)
    # Started first: a broker that is down fails the job row and raises, and nothing else is written.
    job = start_scheduled(kind_of(task), schedule=task.name, params=params_of(task), actor=actor)
    audit_record(
        actor=actor,
        action="schedule.run",
        object_type="django_celery_beat.periodictask",
        object_id=task.name,
        changes={"kind": kind_of(task), "job": job.pk},
    )
    return job


@dataclass
class ScheduleRow:
    task: PeriodicTask
    kind: str
    label: str
    timing: str
    last: Job | None
    next_at: datetime | None


def schedule_rows(*, now: datetime | None = None) -> list[ScheduleRow]:
    rows = []
    for task in scheduled_tasks().order_by("name"):
        kind = kind_of(task)
        k = registry.KINDS.get(kind)
        rows.append(
            ScheduleRow(
                task=task,
                kind=kind,
                label=str(k.label) if k else kind,
                timing=describe(task),
                last=last_run(task.name),
                next_at=next_run(task, now=now),
            )
        )
    return rows
