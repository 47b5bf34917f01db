"""后台任务 pages: recent jobs, a job's live progress (htmx polling) with its retry button, and the
administrators' schedules page (edit, pause/resume, run now). Every write is a service call, audited."""

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods
from django_celery_beat.models import IntervalSchedule

from gridcare.core.audit import Actor
from gridcare.core.permissions import Perm
from gridcare.core.scoping import PermissionDenied
from gridcare.core.views import form_errors_from, staff_required

from . import schedules, selectors, services
from .api import broker_unavailable_message
from .choices import FINISHED, JobState

LIST_LIMIT = 100
SOURCES = {
    "manual": gettext_lazy("人工发起"),
    "scheduled": gettext_lazy("定时任务"),
    "all": gettext_lazy("全部"),
}


def _decorate(job):
    job.label = selectors.job_label(job)
    job.percent = (
        int(100 * job.done / job.total) if job.total else (100 if job.state == JobState.SUCCEEDED else 0)
    )
    job.is_active = job.state not in FINISHED
    job.result_rows = list(job.result.items()) if isinstance(job.result, dict) else []
    # JSON as the API shows it (not Python's repr), Chinese as is.
    job.params_json = json.dumps(job.params or {}, ensure_ascii=False, sort_keys=True)
    return job


@staff_required(Perm.ORG_VIEW)
def job_list(request):
    source = request.GET.get("source", "manual")
    if source not in SOURCES:
        source = "manual"
    qs = selectors.jobs_visible(user=request.user)
    if source == "manual":
        qs = qs.filter(schedule="")
    elif source == "scheduled":
        qs = qs.exclude(schedule="")
    jobs = [_decorate(j) for j in qs[:LIST_LIMIT]]
    return render(
        request,
        "jobs/list.html",
        {
            "jobs": jobs,
            "source": source,
            "sources": SOURCES.items(),
            "is_admin": selectors.is_admin(request.user),
        },
    )


@staff_required(Perm.ORG_VIEW)
def job_detail(request, pk: int):
    job = _decorate(selectors.job_get(user=request.user, pk=pk))
    context = {
        "job": job,
        "can_retry": job.state == JobState.FAILED and services.may_retry(request.user, job),
    }
    if request.htmx:
        return render(request, "jobs/_progress.html", context)
    return render(request, "jobs/detail.html", context)


@staff_required(Perm.ORG_VIEW)
@require_http_methods(["POST"])
def job_retry(request, pk: int):
    job = selectors.job_get(user=request.user, pk=pk)
    try:
        services.job_retry(actor=Actor.console(request), job=job)
    except PermissionDenied:
        raise Http404 from None
    except services.NotRetryable:
        messages.error(request, _("只有失败的任务可以重试"))
    except services.BrokerUnavailable:
        messages.error(request, broker_unavailable_message())
    else:
        messages.success(request, _("任务已重新排队"))
    return redirect("jobs:detail", job.pk)


# ---------------------------------------------------------------- schedules (administrators)


def admin_required(view):
    def wrapped(request, *args, **kwargs):
        if not selectors.is_admin(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return staff_required(Perm.ORG_VIEW)(wrapped)


@admin_required
def schedule_list(request):
    rows = schedules.schedule_rows(now=timezone.now())
    return render(request, "jobs/schedules.html", {"rows": rows})


class ScheduleForm(forms.Form):
    mode = forms.ChoiceField(
        label=gettext_lazy("方式"),
        choices=[
            ("crontab", gettext_lazy("定时（crontab，北京时间）")),
            ("interval", gettext_lazy("固定间隔")),
        ],
    )
    minute = forms.CharField(label=gettext_lazy("分"), required=False, max_length=120)
    hour = forms.CharField(label=gettext_lazy("时"), required=False, max_length=120)
    day_of_month = forms.CharField(label=gettext_lazy("日"), required=False, max_length=120)
    month_of_year = forms.CharField(label=gettext_lazy("月"), required=False, max_length=120)
    day_of_week = forms.CharField(label=gettext_lazy("星期"), required=False, max_length=120)
    every = forms.IntegerField(label=gettext_lazy("间隔"), required=False)
    period = forms.ChoiceField(
        label=gettext_lazy("间隔单位"), required=False, choices=IntervalSchedule.PERIOD_CHOICES
    )

    def clean(self):
        super().clean()
        data = self.cleaned_data  # what Form.clean returns
        if data.get("mode") == "interval" and data.get("every") is None and "every" not in self.errors:
            self.add_error("every", _("请填写间隔"))
        return data


def _initial(task) -> dict:
    if task.crontab_id:
        c = task.crontab
        return {
            "mode": "crontab",
            "minute": c.minute,
            "hour": c.hour,
            "day_of_month": c.day_of_month,
            "month_of_year": c.month_of_year,
            "day_of_week": c.day_of_week,
            "period": IntervalSchedule.MINUTES,
        }
    return {
        "mode": "interval",
        "every": task.interval.every,
        "period": task.interval.period,
        "minute": "0",
        "hour": "*",
    }


@admin_required
@require_http_methods(["GET", "POST"])
def schedule_edit(request, name: str):
    task = schedules.schedule_get(name)
    form = ScheduleForm(request.POST or None, initial=_initial(task))
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            if d["mode"] == "crontab":
                schedules.schedule_update(
                    actor=Actor.console(request),
                    task=task,
                    crontab={f: d.get(f) or "*" for f in schedules.CRON_FIELDS},
                )
            else:
                schedules.schedule_update(
                    actor=Actor.console(request), task=task, every=d["every"], period=d["period"]
                )
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, _("已保存定时任务 %(n)s") % {"n": task.name})
            return redirect("jobs:schedules")
    return render(
        request,
        "jobs/schedule_edit.html",
        {"task": task, "form": form, "label": task.description},
        status=400 if form.is_bound and form.errors else 200,
    )


@admin_required
@require_http_methods(["POST"])
def schedule_toggle(request, name: str):
    task = schedules.schedule_get(name)
    enabled = request.POST.get("enabled") == "1"
    schedules.schedule_set_enabled(actor=Actor.console(request), task=task, enabled=enabled)
    messages.success(request, (_("已恢复 %(n)s") if enabled else _("已暂停 %(n)s")) % {"n": task.name})
    return redirect("jobs:schedules")


@admin_required
@require_http_methods(["POST"])
def schedule_run(request, name: str):
    task = schedules.schedule_get(name)
    try:
        job = schedules.schedule_run_now(actor=Actor.console(request), task=task)
    except services.BrokerUnavailable:
        messages.error(request, broker_unavailable_message())
        return redirect("jobs:schedules")
    except ValidationError as exc:
        for m in exc.messages:
            messages.error(request, m)
        return redirect("jobs:schedules")
    messages.success(request, _("已开始运行 %(n)s") % {"n": task.name})
    return redirect("jobs:detail", job.pk)
