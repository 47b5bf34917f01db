"""Job kinds of the work-order clocks (issue 15 §3–4):

- `service.clock` (every 5 minutes): 80 % warnings and overdue escalation with the supervisors' SMS
  (`clock.clock_tick`);
- `service.recompute_provisional` (started when a calendar year is loaded or its days change): recompute the
  deadlines counting days of those years (`clock.deadlines_recompute`)."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridcare.core.permissions import Perm
from gridcare.jobs.registry import default_schedule, job_kind


@job_kind("service.clock", label=gettext_lazy("工单时限预警与超时升级"), perm=Perm.SERVICE_ADMIN)
def service_clock(ctx):
    from .clock import clock_tick

    ctx.set_total(1)
    result = clock_tick()
    ctx.set_done(1)
    return result


def _validate_years(params: dict, actor) -> dict:
    from .calendar_admin import YEAR_MAX, YEAR_MIN

    years = params.get("years")
    if (
        not isinstance(years, list)
        or not 1 <= len(years) <= 10
        or not all(
            isinstance(y, int) and not isinstance(y, bool) and YEAR_MIN <= y <= YEAR_MAX for y in years
        )
    ):
        raise ValidationError(
            {"years": [_("请给出 1 至 10 个年份（%(lo)s–%(hi)s）") % {"lo": YEAR_MIN, "hi": YEAR_MAX}]}
        )
    return {"years": sorted(set(years))}


@job_kind(
    "service.recompute_provisional",
    label=gettext_lazy("工作日历变更后重算工单时限"),
    validate=_validate_years,
    perm=Perm.SERVICE_ADMIN,
)
def service_recompute_provisional(ctx):
    from .clock import deadlines_recompute

    ctx.set_total(None)
    return deadlines_recompute(years=ctx.params["years"], actor=ctx.actor, on_chunk=ctx.set_done)


default_schedule("service.clock", every=5, period="minutes")
