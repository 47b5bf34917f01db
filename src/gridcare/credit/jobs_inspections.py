"""Job kinds of 用电检查 (issue 17 §2), autodiscovered through `credit.jobs`:

- `credit.inspections_schedule` (daily 01:30 China time): every customer in an inspection class without a scheduled
  periodic inspection gets one (`inspections.inspections_schedule`; set-based, idempotent);
- `credit.rectifications_overdue` (daily 00:20 China time): open rectification notices past their deadline become
  overdue, each with one active `rectification_overdue` event dated deadline + 1 (idempotent).

Each reads "today" from the clock (Asia/Shanghai) when it runs, unless a `date` (YYYY-MM-DD) is given."""

from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridcare.core.permissions import Perm
from gridcare.core.validators import date_range_message
from gridcare.jobs.registry import default_schedule, job_kind


def _validate_date(params: dict, actor) -> dict:
    raw = (params or {}).get("date")
    if raw in (None, ""):
        return {"date": None}
    try:
        day = date.fromisoformat(str(raw))
    except ValueError:
        raise ValidationError({"date": [_("日期格式应为 YYYY-MM-DD")]}) from None
    message = date_range_message(day)
    if message:
        raise ValidationError({"date": [message]})
    return {"date": day.isoformat()}


def _today(ctx) -> date:
    raw = (ctx.params or {}).get("date")
    return date.fromisoformat(raw) if raw else timezone.localdate()


@job_kind(
    "credit.inspections_schedule",
    label=gettext_lazy("用电检查周期排程"),
    validate=_validate_date,
    perm=Perm.CREDIT_ADMIN,
)
def credit_inspections_schedule(ctx):
    from .inspections import inspections_schedule

    ctx.set_total(1)
    result = inspections_schedule(today=_today(ctx))
    ctx.set_done(1)
    return result


@job_kind(
    "credit.rectifications_overdue",
    label=gettext_lazy("逾期未整改转合作信用事件"),
    validate=_validate_date,
    perm=Perm.CREDIT_ADMIN,
)
def credit_rectifications_overdue(ctx):
    from .inspections import rectifications_overdue

    ctx.set_total(1)
    result = rectifications_overdue(today=_today(ctx))
    ctx.set_done(1)
    return result


default_schedule("credit.inspections_schedule", crontab={"minute": "30", "hour": "1"})
default_schedule("credit.rectifications_overdue", crontab={"minute": "20", "hour": "0"})
