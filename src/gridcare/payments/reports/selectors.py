"""Collection reports (SPEC C3 KPIs): collection rate 电费回收率, arrears ageing, channel mix (with the
collection agents' part per agent: 代收机构明细).

All three are scoped to the units a user may see and computed by the database (one grouped query each);
money sums come back as Decimal quantised to the fen.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, F, Max, Q, Sum, Value
from django.db.models.functions import Left, StrIndex

from gridcare.core.money import fen
from gridcare.core.permissions import Perm
from gridcare.core.scoping import restrict
from gridcare.payments.choices import AGENT_CHANNELS
from gridcare.payments.models import CollectionAgent, Payment, Receivable

ZERO = Decimal("0.00")
AGEING_BUCKETS = ((0, 30, "0-30"), (31, 90, "31-90"), (91, 365, "91-365"), (366, None, "365+"))


@dataclass(frozen=True)
class CollectionRow:
    unit_id: int
    unit_name: str
    billed: Decimal
    collected: Decimal
    bills: int

    @property
    def rate(self) -> Decimal:
        """Collected / billed, as a percentage with two decimals (100.00 when nothing was billed)."""
        if not self.billed:
            return Decimal("100.00")
        return (self.collected * 100 / self.billed).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def collection_rate(*, user, period: str) -> list[CollectionRow]:
    """Per unit: principal billed for the period's bills, principal collected so far, the rate."""
    rows = (
        restrict(Receivable.objects.filter(period=period, cancelled_at__isnull=True), user, Perm.STATS_VIEW)
        .values("unit_id", "unit__name")
        .annotate(billed=Sum("principal"), collected=Sum("principal_paid"), bills=Count("id"))
        .order_by("unit__name")
    )
    return [
        CollectionRow(r["unit_id"], r["unit__name"], fen(r["billed"]), fen(r["collected"]), r["bills"])
        for r in rows
    ]


def last_due_period(*, user, today: date) -> str:
    """The latest billing month whose bills (of the user's units) are all past their due date on `today`:
    the month the collection rate means something for. A bill is past due the day after its due date.
    Without any such bills, the month before last (bills are issued in the following month and due 15
    days later, so that month is normally the latest one past due)."""
    row = (
        restrict(Receivable.objects.filter(cancelled_at__isnull=True), user, Perm.STATS_VIEW)
        .values("period")
        .annotate(last_due=Max("due_date"))
        .filter(last_due__lt=today)
        .order_by("-period")
        .values_list("period", flat=True)
        .first()
    )
    if row:
        return row
    before_last = (today.replace(day=1) - timedelta(days=1)).replace(day=1) - timedelta(days=1)
    return f"{before_last:%Y-%m}"


def period_last_due(*, user, period: str) -> date | None:
    """The latest due date among the period's bills of the user's units (None without bills)."""
    return restrict(
        Receivable.objects.filter(period=period, cancelled_at__isnull=True), user, Perm.STATS_VIEW
    ).aggregate(d=Max("due_date"))["d"]


def arrears_ageing(*, user, as_of: date) -> list[dict]:
    """Outstanding principal by days past the due date: 0–30, 31–90, 91–365, over 365 (bills due by as_of)."""
    base = restrict(
        Receivable.objects.filter(
            cancelled_at__isnull=True, due_date__lt=as_of, principal_paid__lt=F("principal")
        ),
        user,
        Perm.STATS_VIEW,
    )
    aggregates = {}
    for lo, hi, label in AGEING_BUCKETS:
        q = Q(due_date__lte=as_of - timedelta(days=lo)) if lo else Q()
        if hi is not None:
            q &= Q(due_date__gte=as_of - timedelta(days=hi))
        aggregates[f"amount_{label}"] = Sum(F("principal") - F("principal_paid"), filter=q)
        aggregates[f"count_{label}"] = Count("id", filter=q)
    totals = base.aggregate(**aggregates)
    return [
        {"bucket": label, "amount": fen(totals[f"amount_{label}"]), "bills": totals[f"count_{label}"]}
        for _lo, _hi, label in AGEING_BUCKETS
    ]


def channel_mix(*, user, date_from: date, date_to: date) -> list[dict]:
    """Posted payments by channel between two dates (inclusive): count and amount."""
    rows = (
        restrict(
            Payment.objects.filter(status="posted", paid_at__date__gte=date_from, paid_at__date__lte=date_to),
            user,
            Perm.STATS_VIEW,
        )
        .values("channel")
        .annotate(n=Count("id"), amount=Sum("amount"))
        .order_by("channel")
    )
    return [{"channel": r["channel"], "payments": r["n"], "amount": fen(r["amount"])} for r in rows]


def agent_mix(*, user, date_from: date, date_to: date) -> list[dict]:
    """The collection agents' posted payments (代收点, 电话银行) between two dates (inclusive), per agent:
    count and amount. The agent is the code before the ":" of the payment's transaction id (`agents`)."""
    rows = (
        restrict(
            Payment.objects.filter(
                status="posted",
                channel__in=AGENT_CHANNELS,
                paid_at__date__gte=date_from,
                paid_at__date__lte=date_to,
            ),
            user,
            Perm.STATS_VIEW,
        )
        .annotate(agent=Left("channel_txn_id", StrIndex("channel_txn_id", Value(":")) - 1))
        .values("channel", "agent")
        .annotate(n=Count("id"), amount=Sum("amount"))
        .order_by("channel", "agent")
    )
    rows = list(rows)
    names = dict(
        CollectionAgent.objects.filter(code__in={r["agent"] for r in rows}).values_list("code", "name")
    )
    return [
        {
            "channel": r["channel"],
            "agent": r["agent"],
            "name": names.get(r["agent"], ""),
            "payments": r["n"],
            "amount": fen(r["amount"]),
        }
        for r in rows
    ]
