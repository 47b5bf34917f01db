"""Job kinds of voltage quality and frequent outages (autodiscovered through `outages.jobs`):

- `outages.voltage_monthly` (daily 02:00): recompute the monthly voltage compliance rates of the current and the
  previous China month (a `month` parameter YYYY-MM-01 recomputes that one instead);
- `outages.frequent` (daily 06:30): open a `FrequentOutageCase` for every account newly on the frequent-outage list;
- `outages.import_voltage`: the `gridcare import voltage` job (the file checked before it is queued).

Each reads "today" from the clock when it runs (Asia/Shanghai) unless a date is given; running one again writes
nothing new (the monthly rows are replaced, cases open once per account)."""

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridcare.core import jobfiles
from gridcare.core.permissions import Perm
from gridcare.customers.jobs import errors_payload, job_actor, read_upload_file, record_written, upload_params
from gridcare.jobs.registry import default_schedule, job_kind

from . import voltage_import as importer


def _day(params: dict, key: str) -> date | None:
    value = params.get(key)
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError({key: [_("日期格式应为 YYYY-MM-DD")]}) from None


def _validate_month(params: dict, actor) -> dict:
    month = _day(params, "month")
    return {"month": month.replace(day=1).isoformat() if month else None}


@job_kind(
    "outages.voltage_monthly",
    label=gettext_lazy("台区电压合格率月度统计"),
    validate=_validate_month,
    perm=Perm.RELIABILITY_VIEW,
)
def voltage_monthly_job(ctx):
    from .voltage import voltage_monthly_refresh

    if ctx.params.get("month"):
        months = [date.fromisoformat(ctx.params["month"])]
    else:
        this = timezone.localdate().replace(day=1)
        months = [(this - timedelta(days=1)).replace(day=1), this]
    ctx.set_total(1)
    rows = voltage_monthly_refresh(months=months)
    ctx.set_done(1)
    return {"months": [m.isoformat() for m in months], "rows": rows}


def _validate_today(params: dict, actor) -> dict:
    day = _day(params, "date")
    return {"date": day.isoformat() if day else None}


@job_kind(
    "outages.frequent",
    label=gettext_lazy("频繁停电客户建档"),
    validate=_validate_today,
    perm=Perm.RELIABILITY_VIEW,
)
def frequent_job(ctx):
    from .frequent import frequent_cases_open

    today = date.fromisoformat(ctx.params["date"]) if ctx.params.get("date") else timezone.localdate()
    ctx.set_total(1)
    opened = frequent_cases_open(today=today)
    ctx.set_done(1)
    return {"date": today.isoformat(), "opened": opened}


def _validate_import(params: dict, actor) -> dict:
    clean, data = upload_params(params, actor, importer.IMPORT_PERM)
    try:
        clean["rows"] = importer.precheck(data)
    except importer.ImportFileError as e:
        raise ValidationError({"file": [str(e)]}) from None
    return clean


def _payload(result: dict) -> dict:
    errors = [importer.RowError(**e) for e in result["errors"]]
    return {
        **{k: v for k, v in result.items() if k not in ("errors", "errors_total")},
        **errors_payload(errors),
    }


@job_kind("outages.import_voltage", label=gettext_lazy("导入台区电压"), validate=_validate_import)
def import_voltage_job(ctx) -> dict:
    p = ctx.params
    if (ctx.job.result or {}).get("written"):
        # A retry after the write committed (the worker died before finishing): the file is in, nothing to redo.
        jobfiles.delete(jobfiles.IMPORTS, p["file"])
        return ctx.job.result
    ctx.set_total(p["rows"])
    result = importer.voltage_import_file(
        data=read_upload_file(p["file"]),
        actor=job_actor(p),
        dry_run=p["dry_run"],
        file_name=p["file_name"],
        progress=ctx.set_done,
        then=lambda r: record_written(ctx.job.pk, _payload(r)),
    )
    ctx.set_done(p["rows"])
    jobfiles.delete(jobfiles.IMPORTS, p["file"])
    return _payload(result)


default_schedule("outages.voltage_monthly", crontab={"minute": "0", "hour": "2"})
default_schedule("outages.frequent", crontab={"minute": "30", "hour": "6"})
