"""Job kinds of the rating runs (issue 17 §3):

- `credit.monthly_run` (the 1st of each month at 03:00 China time): rate every customer as of `as_of` (default:
  the last day of the previous month of the run day). Params: `as_of` (optional, YYYY-MM-DD), or `run_id` (a
  run the page or the API already created). A month that already has a run that did not fail is refused before
  anything is queued. Progress: customers done / total.
- `credit.rate_customer`: rate one customer on demand. Params: `customer_id`, `as_of` (optional, default today).
"""

from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridcare.core.permissions import Perm
from gridcare.core.scoping import PermissionDenied, require_unit
from gridcare.jobs.registry import default_schedule, job_kind


def _as_of(params: dict, key: str = "as_of") -> date | None:
    raw = params.get(key)
    if raw in (None, ""):
        return None
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise ValidationError({key: [_("日期格式应为 YYYY-MM-DD")]}) from None


def _int(params: dict, key: str) -> int:
    try:
        value = int(params.get(key))
    except (TypeError, ValueError):
        raise ValidationError({key: [_("应为整数")]}) from None
    if not 1 <= value <= 2**62:
        raise ValidationError({key: [_("应为整数")]})
    return value


def validate_monthly(params: dict, actor) -> dict:
    from .models import CreditRun
    from .runs import refusal_for

    if params.get("run_id") is not None:
        run_id = _int(params, "run_id")
        if not CreditRun.objects.filter(pk=run_id, kind="monthly").exists():
            raise ValidationError({"run_id": [_("没有该评价批次")]})
        return {"run_id": run_id}
    as_of = _as_of(params)
    if as_of is None:
        return {}
    if as_of > timezone.localdate():
        raise ValidationError({"as_of": [_("评价基准日不能晚于今天")]})
    refused = refusal_for(as_of)
    if refused is not None:
        raise refused
    return {"as_of": as_of.isoformat()}


@job_kind(
    "credit.monthly_run",
    label=gettext_lazy("月度信用评价"),
    validate=validate_monthly,
    perm=Perm.CREDIT_ADMIN,
)
def credit_monthly_run(ctx):
    from .models import CreditRun
    from .runs import execute, monthly_run_create, totals_result

    # The register's ledger-derived events are brought up to date daily at 02:30 (credit.derive_events), before
    # the 03:00 monthly run reads them: the run rates the register as it stands, it does not derive.
    run_id = ctx.params.get("run_id")
    if run_id is not None:
        run = CreditRun.objects.get(pk=run_id)
        if run.status == "done":  # a redelivered message: the run is already over
            return {"run_id": run.pk, "customers_rated": run.customers_rated}
    else:
        # The scheduler: as_of defaults to the last day of the previous month of the run day.
        run = monthly_run_create(actor=ctx.actor, as_of=_as_of(ctx.params))
    CreditRun.objects.filter(pk=run.pk).update(job=ctx.job)

    def progress(done: int, total: int) -> None:
        if ctx.job.total != total:
            ctx.set_total(total)
        ctx.set_done(done)

    totals = execute(run, progress=progress)
    return {"run_id": run.pk, "period": run.period, "as_of": run.as_of.isoformat(), **totals_result(totals)}


default_schedule("credit.monthly_run", crontab={"minute": "0", "hour": "3", "day_of_month": "1"})


def validate_rate_customer(params: dict, actor) -> dict:
    from gridcare.customers.models import Customer

    customer_id = _int(params, "customer_id")
    customer = Customer.objects.filter(pk=customer_id).only("unit_id").first()
    try:
        if customer is None:
            raise PermissionDenied
        require_unit(actor, customer.unit_id, Perm.CREDIT_RECORD)
    except PermissionDenied:
        raise ValidationError({"customer_id": [_("没有该客户")]}) from None
    as_of = _as_of(params) or timezone.localdate()
    if as_of > timezone.localdate():
        raise ValidationError({"as_of": [_("评价基准日不能晚于今天")]})
    return {"customer_id": customer_id, "as_of": as_of.isoformat()}


def _customer_unit(params: dict) -> int | None:
    from gridcare.customers.models import Customer

    return Customer.objects.filter(pk=params.get("customer_id")).values_list("unit_id", flat=True).first()


@job_kind(
    "credit.rate_customer",
    label=gettext_lazy("单户信用评价"),
    validate=validate_rate_customer,
    unit=_customer_unit,
    perm=Perm.CREDIT_RECORD,
)
def credit_rate_customer(ctx):
    from gridcare.customers.models import Customer

    from .runs import customer_rate

    customer = Customer.objects.get(pk=ctx.params["customer_id"])
    ctx.set_total(1)
    score = customer_rate(actor=ctx.actor, customer=customer, as_of=date.fromisoformat(ctx.params["as_of"]))
    ctx.set_done(1)
    return {
        "customer_id": customer.pk,
        "run_id": score.run_id if score else None,
        "grade": score.grade if score else None,
        "total": str(score.total) if score else None,
    }
