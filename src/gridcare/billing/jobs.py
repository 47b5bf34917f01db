"""Job kinds of the billing app: `billing.run`, a billing run executed by the engine (its chunks are tasks)."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridcare.core.permissions import Perm
from gridcare.core.scoping import require_unit
from gridcare.jobs.registry import job_kind


def _int(params: dict, key: str) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({key: [_("应为整数")]})
    return value


def validate_run(params: dict, actor) -> dict:
    """period (YYYY-MM, a month that has ended by `today`), route_id or unit_id (the unit of the actor's user
    when neither), the actor's permission on that unit; chunk_size, run_id and inline pass through.
    The messages are the form's and the API's (`services.parse_period`, `check_period_ended`)."""
    from datetime import date

    from gridcare.metering.models import Route
    from gridcare.org.models import SupplyUnit

    from . import services

    today_raw = params.get("today")
    try:
        today = date.fromisoformat(today_raw) if today_raw else services.local_today()
    except (TypeError, ValueError):
        raise ValidationError({"today": [_("日期应为 YYYY-MM-DD")]}) from None
    start, end = services.parse_period(str(params.get("period") or ""))
    services.check_period_ended(start, end, today)
    route_id, unit_id = _int(params, "route_id"), _int(params, "unit_id")
    if route_id is not None:
        route = Route.objects.select_related("unit").filter(pk=route_id).first()
        if route is None:
            raise ValidationError({"route": [_("未知的抄表段")]})
        unit_id = route.unit_id
    elif unit_id is None:
        unit_id = getattr(actor.user, "unit_id", None)
        if unit_id is None:
            raise ValidationError({"route_code": [_("请选择抄表段")]})
    elif not SupplyUnit.objects.filter(pk=unit_id).exists():
        raise ValidationError({"unit": [_("未知的供电单位")]})
    require_unit(actor, unit_id, Perm.BILLING_RUN)  # PermissionDenied: answered as a missing route
    chunk_size = _int(params, "chunk_size")
    if chunk_size is not None and chunk_size < 1:
        raise ValidationError({"chunk_size": [_("分块大小应为正整数")]})
    return {
        "period": f"{start:%Y-%m}",
        "route_id": route_id,
        "unit_id": None if route_id is not None else unit_id,
        "today": today.isoformat(),
        "chunk_size": chunk_size,
        "run_id": _int(params, "run_id"),
        "inline": bool(params.get("inline")),
    }


def _unit(params: dict) -> int | None:
    from gridcare.metering.models import Route

    if params.get("route_id"):
        return Route.objects.filter(pk=params["route_id"]).values_list("unit_id", flat=True).first()
    return params.get("unit_id")


@job_kind("billing.run", label=gettext_lazy("计费批次"), validate=validate_run, unit=_unit)
def billing_run(ctx):
    """Claim the run, write its plan and fan the chunks out; the last chunk finishes this job (detached).
    A run with nothing to bill ends here, with its counts as the job's result."""
    from gridcare.jobs.services import eager

    from . import runs
    from .choices import BillingRunStatus

    run_id = ctx.params["run_id"]
    run = runs.launch(
        run_id,
        job_id=ctx.job.pk,
        attempt=ctx.job.attempts,
        chunk_size=ctx.params.get("chunk_size") or runs.chunk_size_setting(),
        in_process=bool(ctx.params.get("inline")) or eager(),
    )
    if run.status == BillingRunStatus.DONE and run.chunks_total == 0:
        ctx.set_total(0)
        return runs.result_of(run)
    ctx.detach()
    return None
