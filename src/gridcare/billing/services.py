"""Writes to the tariff catalogue, and the quote (which writes nothing but shares the bill's path).

Editing prices is for the company admin only (`can_edit_tariffs`): `gridcare.core.permissions` has no
tariff permission yet, so the check is on the role here until a `tariff.edit` permission is added there.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from gridcare.core import ratelimit
from gridcare.core.audit import Actor, audit_record
from gridcare.core.permissions import Perm, has_perm

from . import selectors
from .models import Tariff, TariffVersion
from .rating import RatingError, RatingResult, Usage, VersionSpan, parse_params, rate


def can_edit_tariffs(user) -> bool:
    """Tariffs are reference data: only roles with `tariff.edit` (administrators) change them."""
    return has_perm(user, Perm.TARIFF_EDIT)


def _normalised(params: dict[str, Any]) -> dict[str, Any]:
    """Numbers stored as decimal strings, so JSON never holds a float price."""
    if isinstance(params, dict):
        return {k: _normalised(v) for k, v in params.items()}
    if isinstance(params, list):
        return [_normalised(v) for v in params]
    if isinstance(params, int | float | Decimal) and not isinstance(params, bool):
        return str(params)
    return params


def tariff_version_create(
    *,
    actor: Actor,
    tariff: Tariff,
    valid_from: date,
    valid_to: date | None,
    params: dict[str, Any],
    close_open_version: bool = False,
) -> TariffVersion:
    """Add a version; refuses bad prices and any overlap with the tariff's other versions.

    `close_open_version`: when the only version in the way is the open-ended one that started before
    `valid_from`, it is closed the day before (audited as `tariff_version.close`) instead of refused."""
    if actor.user is not None and not can_edit_tariffs(actor.user):
        raise ValidationError({"__all__": [_("只有系统管理员可以维护电价")]})
    errors: dict[str, list[str]] = {}
    params = _normalised(params)
    try:
        parse_params(params)
    except RatingError as exc:
        errors.update({k: [v] for k, v in exc.errors.items()})
    if valid_to is not None and valid_to < valid_from:
        errors["valid_to"] = [_("失效日期不能早于生效日期")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        Tariff.objects.select_for_update().get(pk=tariff.pk)  # one version writer per tariff at a time
        overlapping = TariffVersion.objects.filter(tariff=tariff)
        if valid_to is not None:
            overlapping = overlapping.filter(valid_from__lte=valid_to)
        in_the_way = list(overlapping.exclude(valid_to__lt=valid_from).order_by("valid_from")[:2])
        other = in_the_way[0] if in_the_way else None
        if (
            close_open_version
            and len(in_the_way) == 1
            and other.valid_to is None
            and other.valid_from < valid_from
        ):
            other.valid_to = valid_from - timedelta(days=1)
            other.save(update_fields=["valid_to"])
            audit_record(
                actor=actor,
                action="tariff_version.close",
                obj=other,
                changes={"tariff": tariff.code, "valid_to": [None, other.valid_to.isoformat()]},
            )
            other = None
        if other is not None:
            raise ValidationError(
                {
                    "valid_from": [
                        _("与已有版本 %(from)s 至 %(to)s 的有效期重叠")
                        % {
                            "from": other.valid_from.isoformat(),
                            "to": other.valid_to.isoformat() if other.valid_to else _("长期"),
                        }
                    ]
                }
            )
        version = TariffVersion.objects.create(
            tariff=tariff, valid_from=valid_from, valid_to=valid_to, parameters=params
        )
        audit_record(
            actor=actor,
            action="tariff_version.create",
            obj=version,
            changes={
                "tariff": tariff.code,
                "valid_from": valid_from.isoformat(),
                "valid_to": valid_to.isoformat() if valid_to else None,
                "parameters": params,
            },
        )
    return version


@dataclass(frozen=True)
class Quote:
    tariff: Tariff
    result: RatingResult


def bill_quote(
    *,
    tariff_code: str,
    period_start: date,
    period_end: date,
    kwh: dict[str, Decimal | None],
    ytd_kwh_before: Decimal | None = None,
    capacity_kva: Decimal | None = None,
    max_demand_kw: Decimal | None = None,
    power_factor: Decimal | None = None,
) -> Quote:
    """What a bill would be, through the same engine as a billing run. Writes nothing.

    Bad input → ValidationError({field: [message]}) with the API's field names (kwh.total, …).
    """
    tariff = selectors.tariff_by_code(tariff_code)
    if tariff is None:
        raise ValidationError({"tariff_code": [_("未知的电价代码：%(c)s") % {"c": tariff_code}]})
    try:
        usage = Usage.of(**kwh)
        if period_end < period_start:
            raise RatingError({"period_end": [_("结束日期不能早于开始日期")][0]})
        result = rate(
            versions=selectors.version_spans(tariff, period_start, period_end),
            period_start=period_start,
            period_end=period_end,
            usage=usage,
            ytd_kwh_before=ytd_kwh_before or Decimal(0),
            capacity_kva=capacity_kva,
            max_demand_kw=max_demand_kw,
            power_factor=power_factor,
        )
    except RatingError as exc:
        raise ValidationError({k: [v] for k, v in exc.errors.items()}) from exc
    return Quote(tariff=tariff, result=result)


def tariff_version_preview(
    *,
    valid_from: date,
    valid_to: date | None,
    params: dict[str, Any],
    period_start: date,
    period_end: date,
    kwh: dict[str, Decimal | None],
    ytd_kwh_before: Decimal | None = None,
    capacity_kva: Decimal | None = None,
    max_demand_kw: Decimal | None = None,
    power_factor: Decimal | None = None,
) -> RatingResult:
    """The bill an unsaved version would give a sample consumption, through the same engine as a run.
    Writes nothing. Bad parameters or input → ValidationError({field: [message]}) with the quote's names."""
    try:
        span = VersionSpan(valid_from=valid_from, valid_to=valid_to, params=parse_params(_normalised(params)))
        return rate(
            versions=[span],
            period_start=period_start,
            period_end=period_end,
            usage=Usage.of(**kwh),
            ytd_kwh_before=ytd_kwh_before or Decimal(0),
            capacity_kva=capacity_kva,
            max_demand_kw=max_demand_kw,
            power_factor=power_factor,
        )
    except RatingError as exc:
        raise ValidationError({k: [v] for k, v in exc.errors.items()}) from exc


def quote_allowed(client_key: str) -> bool:
    """The public quote's rate limit (bucket "quote"), shared by the API and the portal page."""
    conf = settings.GRIDCARE
    return ratelimit.hit("quote", client_key, conf["PUBLIC_QUERY_RATE"], conf["PUBLIC_QUERY_WINDOW_SECONDS"])


# ---------------------------------------------------------------- billing runs and bills
#
# Who may run billing, issue and cancel/rebill: roles with `billing.run` (billing clerks, administrators;
# not meter readers). Views and the API check it; these services check the object's unit.

BILL_DUE_DAYS = 15


def parse_period(period: str) -> tuple[date, date]:
    """'YYYY-MM' → (first day, last day); ValidationError({"period": …}) when malformed or before the
    earliest billable month, the month of core.validators.DATE_MIN (2000-01: the system's dates start there;
    later months are refused by `check_period_ended` until they have ended)."""
    import calendar
    import re

    from gridcare.core.validators import DATE_MIN

    m = re.fullmatch(r"(\d{4})-(\d{2})", (period or "").strip())
    if not m or not (1 <= int(m[2]) <= 12):
        raise ValidationError({"period": [_("账期格式应为 YYYY-MM，例如 2026-10")]})
    year, month = int(m[1]), int(m[2])
    if (year, month) < (DATE_MIN.year, DATE_MIN.month):
        raise ValidationError(
            {
                "period": [
                    _("%(p)s 早于系统可计费的最早账期 %(min)s")
                    % {"p": m[0], "min": f"{DATE_MIN.year:04d}-{DATE_MIN.month:02d}"}
                ]
            }
        )
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def local_today() -> date:
    """Today in Asia/Shanghai: the default `today` of the billing services (tests replace it)."""
    from django.utils import timezone

    return timezone.localdate()


def check_period_ended(start: date, end: date, today: date) -> None:
    """A billing month is billed once it has ended: its last day is before `today`. The current month and
    any later one are refused (ValidationError on "period", saying why)."""
    if end >= today:
        raise ValidationError(
            {
                "period": [
                    _("%(p)s 尚未结束，不能开账（账期结束后才能计费，今天是 %(t)s）")
                    % {"p": f"{start:%Y-%m}", "t": today.isoformat()}
                ]
            }
        )


def billing_run_start(*, actor: Actor, period: str, route=None, unit=None, today: date | None = None):
    """Create the run of (period, route) — or of (period, unit) for all its routes — or return the
    existing one: starting twice is harmless. A month that has not ended on `today` (default: the local
    date) is refused."""
    from django.db import IntegrityError
    from django.utils import timezone

    from .models import BillingRun

    start, end = parse_period(period)
    check_period_ended(start, end, today or local_today())
    period = f"{start:%Y-%m}"
    if route is not None:
        unit = route.unit
    if unit is None:
        unit = getattr(actor.user, "unit", None)
    if unit is None:
        raise ValidationError({"route_code": [_("请选择抄表段")]})
    lookup = (
        {"period": period, "route": route}
        if route is not None
        else {"period": period, "route": None, "unit": unit}
    )
    existing = BillingRun.objects.filter(**lookup).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            run = BillingRun.objects.create(
                **{**lookup, "unit": unit},
                period_start=start,
                period_end=end,
                created_at=timezone.now(),
                created_by=actor.user if getattr(actor.user, "is_authenticated", False) else None,
            )
            audit_record(
                actor=actor,
                action="billing_run.start",
                obj=run,
                unit_id=unit.pk,
                changes={"period": period, "route": route.code if route else None, "unit": unit.code},
            )
    except IntegrityError:
        return BillingRun.objects.get(**lookup)
    return run


def billing_run_delete(*, actor: Actor, run) -> dict[str, int]:
    """Delete a run that issued nothing: its draft bills (with their lines) and its exceptions go with it, and
    the month can be run again. Refused (ValidationError, nothing written) while the run is executing or once
    any of its bills was issued (an issued bill is corrected by cancel/rebill, never deleted). Audited as
    `billing_run.delete` with what was removed."""
    from django.db import connection

    from gridcare.core.locks import serialise

    from . import leases
    from .choices import BillingRunStatus, BillStatus
    from .models import Bill, BillingException, BillingRun, BillLine

    with transaction.atomic():
        serialise(
            f"billing-run:{run.period}"
        )  # against a claim of the run's lease meanwhile (`leases.claim`)
        run = (
            BillingRun.objects.select_for_update(of=("self",)).select_related("route", "unit").get(pk=run.pk)
        )
        if run.status == BillingRunStatus.RUNNING or leases.active_lease(run) is not None:
            raise ValidationError({"run": [_("计费批次正在执行，不能删除")]})
        issued = Bill.objects.filter(run=run).exclude(status=BillStatus.DRAFT).count()
        if issued:
            raise ValidationError(
                {
                    "run": [
                        _("该批次已发行 %(n)s 张账单，不能删除；已发行的账单请用“作废并重开”更正")
                        % {"n": issued}
                    ]
                }
            )
        drafts = Bill.objects.filter(run=run, status=BillStatus.DRAFT)
        # Set-based: lines by their bills' run, then the bills (nothing else refers to a draft bill).
        BillLine.objects.filter(bill_id__in=drafts.values("pk")).delete()
        with connection.cursor() as cur:
            cur.execute(
                f"DELETE FROM {Bill._meta.db_table} WHERE run_id = %s AND status = %s",  # noqa: S608
                [run.pk, BillStatus.DRAFT],
            )
            deleted_bills = cur.rowcount
        if Bill.objects.filter(run=run).exists():  # issued meanwhile by a concurrent request
            raise ValidationError({"run": [_("该批次的账单刚刚被发行，不能删除")]})
        exceptions = BillingException.objects.filter(run=run).count()
        audit_record(
            actor=actor,
            action="billing_run.delete",
            obj=run,
            unit_id=run.unit_id,
            changes={
                "period": run.period,
                "route": run.route.code if run.route_id else None,
                "unit": run.unit.code,
                "status": run.status,
                "draft_bills_deleted": deleted_bills,
                "exceptions_deleted": exceptions,
            },
        )
        run.delete()
    return {"bills": deleted_bills, "exceptions": exceptions}


def billing_run_execute(run_id: int, *, chunk_size: int | None = None, progress=None):
    """Bill the run's accounts chunk by chunk in this process (see `gridcare.billing.runs.execute`): the
    `--inline` CLI and the tests. A run that is executing, or shares accounts with an executing run of its
    period, is refused with `leases.RunBusy` (a `Conflict`: 409 naming the active run), nothing written."""
    from . import runs

    return runs.execute(run_id, chunk_size=chunk_size or runs.chunk_size_setting(), progress=progress)


def billing_run_submit(
    *,
    actor: Actor,
    period: str,
    route=None,
    unit=None,
    today: date | None = None,
    chunk_size: int | None = None,
    inline: bool = False,
):
    """Start (or continue) a billing run as a `billing.run` job; returns (run, job).

    Refused before anything is written: bad parameters (ValidationError, the form's messages), a broker that
    does not answer (BrokerUnavailable; only the job row is written, failed "broker unavailable"), a run
    that is executing or shares accounts with one executing (`leases.RunBusy`). Otherwise the run row is
    created (or found), the job is queued, and the run's chunks spread over the workers; with `inline`, or
    eager jobs (tests), everything runs here before this returns."""
    from gridcare.jobs import services as jobs
    from gridcare.jobs.registry import get as job_kind

    from . import jobs as _kinds  # noqa: F401 — registers billing.run
    from . import leases
    from .models import BillingRun

    params = {
        "period": period,
        "route_id": route.pk if route is not None else None,
        "unit_id": unit.pk if unit is not None and route is None else None,
        "today": today.isoformat() if today else None,
        "chunk_size": chunk_size,
        "inline": inline,
    }
    clean = job_kind("billing.run").validate(params, actor)
    in_process = inline or jobs.eager()
    if not in_process and not jobs.broker_reachable():
        job = jobs.create("billing.run", clean, actor=actor)
        jobs.fail(job.pk, "broker unavailable")
        raise jobs.BrokerUnavailable(_("任务队列不可用（broker unavailable），计费未开始，请稍后再试"))
    run = billing_run_start(actor=actor, period=period, route=route, unit=unit, today=today)
    leases.ensure_free(run)
    job = jobs.create("billing.run", {**clean, "run_id": run.pk}, actor=actor)
    BillingRun.objects.filter(pk=run.pk).update(job=job)
    if in_process:
        jobs.run(job.pk)
    else:
        jobs.enqueue(job)
    job.refresh_from_db()
    return BillingRun.objects.select_related("route", "unit", "job").get(pk=run.pk), job


def on_bills_issued(bill_ids: list[int]) -> None:
    """Notification seam: called after commit with the ids of newly issued bills.

    Enqueues the "bill issued" notice (电费发行通知) of each bill to its account's customer, set-based: one
    read of the bills with their accounts per chunk and one bulk enqueue (`gridcare.notify`). The dedupe key
    is the bill id, so calling it twice for the same bills writes nothing more.
    """
    import logging

    from gridcare.notify.choices import Kind
    from gridcare.notify.outbox import notifications_enqueue_bulk

    from .models import Bill

    chunk = 5000
    for start in range(0, len(bill_ids), chunk):
        rows = Bill.objects.filter(pk__any=bill_ids[start : start + chunk]).values_list(
            "id",
            "account_id",
            "account__account_number",
            "account__customer_id",
            "period_start",
            "amount",
            "due_date",
        )
        try:
            notifications_enqueue_bulk(
                {
                    "kind": Kind.BILL_ISSUED,
                    "customer_id": customer_id,
                    "account_id": account_id,
                    "account_number": number,  # joined here: the outbox need not look it up
                    "dedupe_key": f"bill_issued:{bill_id}",
                    "context": {
                        "period": f"{period:%Y}年{period.month}月",
                        "amount": amount,
                        "due_date": due,
                    },
                }
                for bill_id, account_id, number, customer_id, period, amount, due in rows
            )
        except Exception:  # the bills are issued and committed: a notice problem must not hide that
            log = logging.getLogger("gridcare.notify")
            log.exception("bill issued notices failed (%s bills)", len(bill_ids))


def bills_issue(*, actor: Actor, run, now=None) -> int:
    """Issue the run's draft bills, due BILL_DUE_DAYS (15) days after the issue date; returns how many.

    The path of the money, in one transaction, top to bottom:
    1. the run's draft bills become issued, with their due date, and the issue is audited;
    2. the ledger opens a receivable and a bill entry for each (`payments.ledger.services.receivables_open`),
       and the credit of those accounts (prepaid money, overpayments) pays the new bills at once;
    3. after commit, each bill's "bill issued" notice is enqueued (`on_bills_issued`).

    `now` (aware datetime, default the current time) is the issue time: the demo data issues each month's
    bills a few days after that month, as a bureau would have."""
    from django.utils import timezone

    from gridcare.payments.ledger.services import receivables_open

    from .choices import BillStatus
    from .models import Bill

    now = now or timezone.now()
    today = timezone.localdate(now)
    with transaction.atomic():
        drafts = Bill.objects.select_for_update().filter(run=run, status=BillStatus.DRAFT)
        ids = list(drafts.values_list("pk", flat=True))
        Bill.objects.filter(pk__any=ids).update(
            status=BillStatus.ISSUED, issued_at=now, due_date=today + timedelta(days=BILL_DUE_DAYS)
        )
        audit_record(
            actor=actor,
            action="bills.issue",
            obj=run,
            unit_id=run.unit_id,
            changes={"count": len(ids), "due_date": (today + timedelta(days=BILL_DUE_DAYS)).isoformat()},
        )
        if ids:
            receivables_open(ids, on=today)
            transaction.on_commit(lambda: on_bills_issued(ids))
    return len(ids)


def bill_cancel_rebill(*, actor: Actor, bill, reason: str):
    """Cancel a bill and create its correction, re-rated from the account's current reads.

    Both are kept; the new draft bill has `corrects` = the cancelled one (and the same run, so issuing
    the run issues it). Refused when the bill is already cancelled or cannot be re-rated; an interactive
    actor needs `billing.run` within the bill's unit (PermissionDenied, answered as 404 like a missing bill).

    The path of the money, in one transaction, top to bottom:
    1. the bill is re-rated first (nothing is written when it cannot be);
    2. the bill is marked cancelled;
    3. the ledger closes its receivable (`payments.ledger.services.receivable_cancel`): what payments paid on
       it goes back to them as credit, which pays the account's other open bills at once, and adjustment
       entries take the bill and its late fee out of the balance;
    4. the correcting draft bill is saved (it is paid from that credit when its run is issued).
    """
    from django.utils import timezone

    from gridcare.core.scoping import require_object
    from gridcare.customers.models import Account
    from gridcare.payments.ledger.services import receivable_cancel

    from . import runs
    from .choices import BillStatus
    from .models import Bill

    # Before any validation: a refused actor learns nothing about the bill. A bill's unit never changes.
    require_object(actor, bill, Perm.BILLING_RUN)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("请填写作废原因")]})
    with transaction.atomic():
        old = Bill.objects.select_for_update().get(pk=bill.pk)
        if old.status == BillStatus.CANCELLED:
            raise ValidationError({"__all__": [_("该账单已作废")]})
        spans, broken = runs.load_spans(old.period_start, old.period_end)
        (item,) = runs.compute([old.account_id], old.period_start, old.period_end, spans, broken)
        if item.skipped:
            raise ValidationError(
                {"__all__": [_("该户在本账期内未在用电（已销户或尚未立户），不能重新计费")]}
            )
        if item.result is None:
            raise ValidationError({"__all__": [_("无法重新计费：%(m)s") % {"m": item.message}]})
        now = timezone.now()
        old.status, old.cancelled_at, old.cancel_reason = BillStatus.CANCELLED, now, reason
        old.save(update_fields=["status", "cancelled_at", "cancel_reason"])
        receivable_cancel(bill_id=old.pk, reason=reason, cancelled_at=now)
        (new,) = runs.bill_rows(
            [item],
            run_id=old.run_id,
            period_start=old.period_start,
            period_end=old.period_end,
            now=now,
            corrects_id=old.pk,
        )
        runs.save_bills([item], [new])
        audit_record(
            actor=actor,
            action="bill.cancel_rebill",
            obj=new,
            # On the account holder's 360° timeline too.
            customer_id=Account.objects.filter(pk=old.account_id)
            .values_list("customer_id", flat=True)
            .first(),
            unit_id=old.unit_id,
            changes={
                "cancelled": old.pk,
                "reason": reason,
                "old_amount": str(old.amount),
                "new_amount": str(new.amount),
            },
        )
    return new
