"""Reads of the tariff catalogue. The catalogue is public price information: no unit scoping."""

from datetime import date

from django.db.models import Prefetch, QuerySet

from .models import Tariff, TariffVersion
from .rating import VersionSpan, parse_params


def tariffs_with_versions() -> QuerySet[Tariff]:
    """Every tariff with its versions (oldest first) in two queries."""
    return Tariff.objects.order_by("code").prefetch_related(
        Prefetch("versions", queryset=TariffVersion.objects.order_by("valid_from"))
    )


def tariff_by_code(code: str) -> Tariff | None:
    return Tariff.objects.filter(code=(code or "").strip()).first()


def current_version(tariff: Tariff, on: date) -> TariffVersion | None:
    """The version valid on `on`, from the prefetched versions when present."""
    for v in tariff.versions.all():
        if v.valid_from <= on and (v.valid_to is None or v.valid_to >= on):
            return v
    return None


def version_spans(tariff: Tariff, start: date, end: date) -> list[VersionSpan]:
    """The tariff's versions overlapping [start, end], parsed for the rating engine."""
    rows = (
        TariffVersion.objects.filter(tariff=tariff, valid_from__lte=end)
        .exclude(valid_to__lt=start)
        .order_by("valid_from")
    )
    return [
        VersionSpan(
            valid_from=v.valid_from,
            valid_to=v.valid_to,
            params=parse_params(v.parameters),
            label=f"{tariff.code}@{v.valid_from.isoformat()}",
        )
        for v in rows
    ]


# ---------------------------------------------------------------- billing runs and bills
# Runs are seen by roles with `meter.edit` (billing clerks, admins) within their units; bills by roles
# with `customer.view` (counter clerks and 95598 agents answer bill questions) within their units.


def runs_visible(*, user):
    from gridcare.core.permissions import Perm
    from gridcare.core.scoping import restrict

    from .models import BillingRun

    return restrict(BillingRun.objects.select_related("route", "unit"), user, Perm.BILLING_RUN)


def runs_to_issue(*, user):
    """Finished runs of the user's units that still have draft bills to issue (the staff home's to-do)."""
    from django.db.models import Exists, OuterRef

    from .choices import BillingRunStatus, BillStatus
    from .models import Bill

    drafts = Bill.objects.filter(run_id=OuterRef("pk"), status=BillStatus.DRAFT)
    return runs_visible(user=user).filter(status=BillingRunStatus.DONE).filter(Exists(drafts))


def run_totals(run_ids) -> dict[int, dict]:
    """Bills, kWh and amount of each run's bills that are not cancelled: one grouped query for the list."""
    from django.db.models import Count, Sum

    from .choices import BillStatus
    from .models import Bill

    ids = list(run_ids)
    if not ids:
        return {}
    rows = (
        Bill.objects.filter(run_id__in=ids)
        .exclude(status=BillStatus.CANCELLED)
        .values("run_id")
        .annotate(bills=Count("id"), kwh=Sum("kwh_total"), amount=Sum("amount"))
        .order_by()
    )
    return {r["run_id"]: {"bills": r["bills"], "kwh": r["kwh"], "amount": r["amount"]} for r in rows}


def run_issued_count(run) -> int:
    """How many of the run's bills were issued (or issued and then cancelled): a run with any cannot be deleted."""
    from .choices import BillStatus
    from .models import Bill

    return Bill.objects.filter(run=run).exclude(status=BillStatus.DRAFT).count()


def run_get(*, user, pk):
    from django.http import Http404

    from gridcare.core.scoping import get_or_404

    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    return get_or_404(runs_visible(user=user), pk=pk)


def run_exceptions(run):
    return run.exceptions.select_related("account").order_by("account__account_number")


def route_for_billing(*, user, code: str):
    """A route the user may bill, by code (None when missing or out of scope)."""
    from gridcare.metering.selectors import routes_visible

    return routes_visible(user=user).filter(code=(code or "").strip()).first()


def bills_of_account(*, user, account_number: str):
    """An account's bills (newest first, lines prefetched); empty when the account is not visible."""
    from gridcare.core.permissions import Perm
    from gridcare.core.scoping import restrict

    from .models import Bill, BillLine

    return (
        restrict(Bill.objects.all(), user, Perm.CUSTOMER_VIEW)
        .filter(account__account_number=(account_number or "").strip())
        .select_related("account")
        .prefetch_related(Prefetch("lines", queryset=BillLine.objects.order_by("seq")))
        .order_by("-period_start", "-id")
    )


def run_has_drafts(run) -> bool:
    """Whether the run still has draft bills to issue."""
    from .choices import BillStatus
    from .models import Bill

    return Bill.objects.filter(run=run, status=BillStatus.DRAFT).exists()


def bill_with_lines(*, user, pk):
    """One bill with its account and lines, as the API shows it; 404 for missing and out of scope alike."""
    from django.http import Http404

    from gridcare.core.permissions import Perm
    from gridcare.core.scoping import get_or_404, restrict

    from .models import Bill, BillLine

    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    return get_or_404(
        restrict(Bill.objects.all(), user, Perm.CUSTOMER_VIEW)
        .select_related("account")
        .prefetch_related(Prefetch("lines", queryset=BillLine.objects.order_by("seq"))),
        pk=pk,
    )


RECENT_BILLS = 13


def recent_bills_by_account(*, user, account_ids, limit: int = RECENT_BILLS) -> dict[int, list]:
    """{account id: its last `limit` bills that are not drafts, newest first} for the customer 360° page.

    One query whatever the number of accounts (a ROW_NUMBER window per account), and only bills the user
    may see (`customer.view` within the bill's unit, as for the electronic bill)."""
    from django.db.models import F, Window
    from django.db.models.functions import RowNumber

    from gridcare.core.permissions import Perm
    from gridcare.core.scoping import restrict

    from .choices import BillStatus
    from .models import Bill

    ids = list(account_ids)
    out: dict[int, list] = {i: [] for i in ids}
    if not ids:
        return out
    rows = (
        restrict(Bill.objects.all(), user, Perm.CUSTOMER_VIEW)
        .filter(account_id__in=ids)
        .exclude(status=BillStatus.DRAFT)
        .only(
            "account_id",
            "unit_id",
            "period_start",
            "period_end",
            "kwh_total",
            "amount",
            "status",
            "due_date",
            "estimated",
            "corrects_id",
        )
        .annotate(
            recency=Window(
                RowNumber(),
                partition_by=[F("account_id")],
                order_by=[F("period_start").desc(), F("id").desc()],
            )
        )
        .filter(recency__lte=limit)
        .order_by("account_id", "-period_start", "-id")
    )
    for bill in rows:
        out[bill.account_id].append(bill)
    return out


def run_stalled(run) -> str:
    """Why the run stands still and may be executed again ('' while it runs, waits for a worker, or is done):
    its own error when it failed, or its job's when the job failed before the run began (broker down)."""
    from gridcare.jobs.choices import JobState

    from .choices import BillingRunStatus

    if run.status == BillingRunStatus.FAILED:
        return run.error or (run.job.error if run.job_id and run.job else "") or "—"
    if run.status == BillingRunStatus.PENDING and run.job_id and run.job and run.job.state == JobState.FAILED:
        return run.job.error or "—"
    return ""
