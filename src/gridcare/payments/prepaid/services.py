"""Prepaid accounts (预存 / 智能交费): enrolment, the daily balance estimate and the low-balance alert.

There is no daily metering, so the estimate comes from the bills and the ledger, all as of a day `today`:

- available (可用余额) = −(sum of the account's ledger entries that occurred on or before `today`): credit
  minus open debts. Late fee accrued but not yet charged is not in the ledger and not counted.
- daily cost (日均电费) = the amount of the account's last 3 issued bills (by period end; a bill counts once
  its ledger entry occurred on or before `today`) ÷ the days those bills cover (each bill
  period_end − period_start + 1), rounded half-up to the fen. Everything after uses this rounded daily
  cost, so the figures a customer sees multiply out: 208.00 / 89 days = 2.3371… → 2.34 a day.
- spend since the last bill (账单后估算用电) = daily cost × days from the last billed day (the latest of
  those bills' period end) to `today`: period end 30 Sep, today 10 Oct → 10 days → 23.40.
- remaining (估算剩余余额) = available − spend since; days left (预计可用天数) = floor(remaining ÷ daily
  cost), 0 when nothing remains.
- No issued bill yet (fallback): the daily cost is unknown (NULL), nothing is estimated as spent, remaining
  = available and days left is unknown; only the yuan threshold can raise the alert. A daily cost of 0.00
  (bills of 0.00) likewise leaves days left unknown.

Low-balance alert: an account is low when remaining < its threshold in yuan (default 50.00), or, if it has
a days threshold, when days left < that many days. The alert is raised once per downward crossing: the
account's `alert_state` goes armed → low and one `PrepaidAlert` row is written; while it stays low nothing
more is raised; an estimate that is no longer low (a payment lifted it) re-arms it. At most one alert per
account per day (re-running a day never raises twice). New alerts are handed to `on_prepaid_low_balance`
after the commit. A run for a day earlier than an account's latest estimate (a backfill) rewrites that
day's estimate row but leaves the alert state alone: the state follows the newest day.

The run is set-based: one SQL read (CTEs with a window function over the bills, an aggregate over the
ledger), Decimal arithmetic per row in Python, estimate rows upserted in batches (unique per account and
day: re-running a day replaces its rows), one UPDATE pointing each account at its latest estimate, and
two UPDATEs for the alert state changes.
"""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.billing.choices import BillStatus
from gridcare.billing.models import Bill
from gridcare.core.audit import Actor, audit_record
from gridcare.core.money import fen
from gridcare.core.permissions import Perm
from gridcare.core.scoping import PermissionDenied, require_object, restrict
from gridcare.customers.choices import AccountStatus
from gridcare.customers.models import Account
from gridcare.payments.choices import EntryKind, PrepaidAlertState
from gridcare.payments.ledger.services import clean_amount
from gridcare.payments.models import LedgerEntry, PrepaidAccount, PrepaidAlert, PrepaidEstimate

__all__ = ["PermissionDenied"]

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
DEFAULT_THRESHOLD = Decimal("50.00")
MAX_THRESHOLD = Decimal("999999.99")
MAX_THRESHOLD_DAYS = 365
BILLS_FOR_RATE = 3
BATCH = 5000
ESTIMATE_BATCH = 4000  # 12 columns × 4,000 rows stays under PostgreSQL's 65,535 parameters per statement
LOCK_KEY = 4_0101  # pg_advisory_xact_lock key of the daily run (issue 4 §1)


# ---------------------------------------------------------------- the notification seam


def on_prepaid_low_balance(alert_ids: list[int]) -> None:
    """Called after the commit of a run that raised low-balance alerts, with the new `PrepaidAlert` ids.

    The notification outbox (SPEC C9) sends the customer "余额不足提醒" with the account number, remaining
    balance and days left read from the alert rows."""
    from gridcare.payments.notices import low_balance_enqueue

    low_balance_enqueue(alert_ids)


# ---------------------------------------------------------------- input


def clean_threshold(raw: Any) -> Decimal:
    """A threshold in yuan: 0 or more, at most two decimals (ValidationError on `threshold`)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return DEFAULT_THRESHOLD
    try:
        value = clean_amount(raw, "threshold", allow_zero=True)
    except ValidationError as exc:
        raise ValidationError(
            {
                "threshold": [
                    _("提醒阈值必须是金额数字（不小于 0，最多两位小数）：%(v)s") % {"v": str(raw)[:20]}
                ]
            }
        ) from exc
    if value > MAX_THRESHOLD:
        raise ValidationError({"threshold": [_("提醒阈值过大（最多 %(m)s 元）") % {"m": MAX_THRESHOLD}]})
    return value.quantize(CENT)


def clean_threshold_days(raw: Any) -> int | None:
    """Days-left threshold: empty for none, otherwise a whole number 1–365 (ValidationError on `threshold_days`)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        if isinstance(raw, bool | float):
            raise ValueError
        value = int(str(raw).strip())
    except ValueError:
        raise ValidationError(
            {"threshold_days": [_("可用天数阈值必须是整数：%(v)s") % {"v": str(raw)[:20]}]}
        ) from None
    if not 1 <= value <= MAX_THRESHOLD_DAYS:
        raise ValidationError(
            {"threshold_days": [_("可用天数阈值应在 1 到 %(m)s 天之间") % {"m": MAX_THRESHOLD_DAYS}]}
        )
    return value


# ---------------------------------------------------------------- enrolment (writes)


def _enrolment_snapshot(p: PrepaidAccount) -> dict[str, Any]:
    return {
        "threshold": str(p.threshold),
        "threshold_days": p.threshold_days,
        "enrolled_on": p.enrolled_on.isoformat(),
        "unenrolled_on": p.unenrolled_on and p.unenrolled_on.isoformat(),
    }


@transaction.atomic
def prepaid_enrol(
    *,
    actor: Actor,
    account: Account,
    threshold: Any = None,
    threshold_days: Any = None,
    today: date | None = None,
) -> PrepaidAccount:
    """Enrol an account in prepaid (开通智能交费), or change the thresholds of an enrolled one.

    Idempotent: enrolling again with the same thresholds writes nothing. Re-enrolling after an unenrolment
    starts afresh (enrolled today, alert armed). Refused: a closed account, a bad threshold."""
    require_object(actor, account, Perm.CUSTOMER_EDIT)
    errs: dict[str, list[str]] = {}
    value = days = None
    try:
        value = clean_threshold(threshold)
    except ValidationError as exc:
        errs.update(exc.message_dict)
    try:
        days = clean_threshold_days(threshold_days)
    except ValidationError as exc:
        errs.update(exc.message_dict)
    account = Account.objects.select_for_update().get(pk=account.pk)
    if account.status != AccountStatus.ACTIVE:
        errs["account_number"] = [_("户号 %(n)s 已销户，不能开通智能交费") % {"n": account.account_number}]
    if errs:
        raise ValidationError(errs)
    today = today or timezone.localdate()
    now = timezone.now()
    p = PrepaidAccount.objects.select_for_update().filter(account=account).first()
    if p is None:
        p = PrepaidAccount.objects.create(
            account=account,
            enrolled_on=today,
            threshold=value,
            threshold_days=days,
            created_at=now,
            updated_at=now,
        )
        action, changes = "prepaid.enrol", {"after": _enrolment_snapshot(p)}
    else:
        before = _enrolment_snapshot(p)
        if p.enrolled and (p.threshold, p.threshold_days) == (value, days):
            return p
        if p.enrolled:
            action = "prepaid.update"
        else:
            action = "prepaid.enrol"
            p.enrolled_on, p.unenrolled_on = today, None
            p.alert_state, p.alert_changed_on = PrepaidAlertState.ARMED, None
        p.threshold, p.threshold_days, p.updated_at = value, days, now
        p.save()
        changes = {"before": before, "after": _enrolment_snapshot(p)}
    audit_record(
        actor=actor,
        action=action,
        obj=p,
        customer_id=account.customer_id,
        unit_id=account.unit_id,
        changes={"account_number": account.account_number, **changes},
    )
    return p


@transaction.atomic
def prepaid_unenrol(*, actor: Actor, account: Account, today: date | None = None) -> PrepaidAccount:
    """Take an account out of prepaid (取消智能交费): no more estimates or alerts; its history stays.

    Unenrolling an account already unenrolled writes nothing (a retry); one never enrolled is refused."""
    require_object(actor, account, Perm.CUSTOMER_EDIT)
    p = PrepaidAccount.objects.select_for_update().filter(account_id=account.pk).first()
    if p is None:
        raise ValidationError(
            {"account_number": [_("户号 %(n)s 未开通智能交费") % {"n": account.account_number}]}
        )
    if not p.enrolled:
        return p
    before = _enrolment_snapshot(p)
    p.unenrolled_on, p.updated_at = today or timezone.localdate(), timezone.now()
    p.save(update_fields=["unenrolled_on", "updated_at"])
    audit_record(
        actor=actor,
        action="prepaid.unenrol",
        obj=p,
        customer_id=account.customer_id,
        unit_id=account.unit_id,
        changes={"account_number": account.account_number, "before": before, "after": _enrolment_snapshot(p)},
    )
    return p


# ---------------------------------------------------------------- the estimate


@dataclass(frozen=True)
class Estimate:
    """One account's estimate as of a day (see the module docstring for each figure)."""

    prepaid_id: int
    account_id: int
    estimated_on: date
    available: Decimal
    billed_amount: Decimal
    billed_days: int
    daily_cost: Decimal | None
    last_billed_on: date | None
    spend_since: Decimal
    remaining: Decimal
    days_left: int | None
    is_low: bool


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def estimate_figures(
    *, available: Decimal, billed_amount: Decimal, billed_days: int, last_billed_on: date | None, today: date
) -> tuple[Decimal | None, Decimal, Decimal, int | None]:
    """(daily cost, spend since the last billed day, remaining, days left) from the inputs, as documented."""
    if not billed_days or last_billed_on is None:
        return None, ZERO, available, None
    daily = (billed_amount / billed_days).quantize(CENT, ROUND_HALF_UP)
    elapsed = max(0, (today - last_billed_on).days)
    spend = (daily * elapsed).quantize(CENT, ROUND_HALF_UP)
    remaining = available - spend
    if daily <= 0:
        return daily, spend, remaining, None
    days_left = int((remaining / daily).to_integral_value(ROUND_FLOOR)) if remaining > 0 else 0
    return daily, spend, remaining, days_left


def _is_low(
    remaining: Decimal, days_left: int | None, threshold: Decimal, threshold_days: int | None
) -> bool:
    if remaining < threshold:
        return True
    return threshold_days is not None and days_left is not None and days_left < threshold_days


def _days_sql() -> str:
    if connection.vendor == "postgresql":
        return "(b.period_end - b.period_start + 1)"
    return "(CAST(julianday(b.period_end) - julianday(b.period_start) AS INTEGER) + 1)"


def _read_sql(one_account: bool) -> str:
    """The one read of a run: per enrolled account, its thresholds, alert state, the day of its latest
    estimate, its ledger balance as of the day and its last 3 issued bills' amount, days and last end.
    For one account the account filter is repeated inside each CTE so that the ledger and bill indexes
    (account, …) are used rather than a scan joined to a materialised CTE."""
    one = "AND {col} = %s" if one_account else ""
    pa, le = PrepaidAccount._meta.db_table, LedgerEntry._meta.db_table
    est, bill = PrepaidEstimate._meta.db_table, Bill._meta.db_table
    # Only table names and fixed fragments are interpolated; every value is a parameter.
    return f"""
WITH p AS (
    SELECT pa.id, pa.account_id FROM {pa} pa WHERE pa.unenrolled_on IS NULL {one.format(col="pa.account_id")}
),
bal AS (
    SELECT le.account_id, SUM(le.amount) AS balance
    FROM {le} le JOIN p ON p.account_id = le.account_id
    WHERE le.occurred_on <= %s {one.format(col="le.account_id")}
    GROUP BY le.account_id
),
rb AS (
    SELECT b.account_id, b.amount, {_days_sql()} AS days, b.period_end,
           ROW_NUMBER() OVER (PARTITION BY b.account_id ORDER BY b.period_end DESC, b.id DESC) AS rn
    FROM {bill} b
    JOIN p ON p.account_id = b.account_id
    JOIN {le} ble ON ble.bill_id = b.id AND ble.kind = %s
    WHERE b.status = %s AND ble.occurred_on <= %s {one.format(col="b.account_id")}
),
bs AS (
    SELECT account_id, SUM(amount) AS billed, SUM(days) AS days, MAX(period_end) AS last_end
    FROM rb WHERE rn <= %s GROUP BY account_id
)
SELECT pa.id, pa.account_id, pa.threshold, pa.threshold_days, pa.alert_state, e.estimated_on,
       bal.balance, bs.billed, bs.days, bs.last_end
FROM p
JOIN {pa} pa ON pa.id = p.id
LEFT JOIN {est} e ON e.id = pa.last_estimate_id
LEFT JOIN bal ON bal.account_id = p.account_id
LEFT JOIN bs ON bs.account_id = p.account_id
ORDER BY pa.id
"""  # noqa: S608


@dataclass(frozen=True)
class _Row:
    estimate: Estimate
    threshold: Decimal
    alert_state: str
    latest_on: date | None


def _estimate_rows(today: date, account_id: int | None = None) -> list[_Row]:
    sql = _read_sql(account_id is not None)
    one = [account_id] if account_id is not None else []
    params = [*one, today, *one, EntryKind.BILL.value, BillStatus.ISSUED.value, today, *one, BILLS_FOR_RATE]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        raw = cur.fetchall()
    rows = []
    for pk, acct, threshold, threshold_days, state, latest_on, balance, billed, days, last_end in raw:
        threshold = fen(threshold)
        available = -fen(balance)
        billed_amount, billed_days, last_billed_on = fen(billed), int(days or 0), _day(last_end)
        daily, spend, remaining, days_left = estimate_figures(
            available=available,
            billed_amount=billed_amount,
            billed_days=billed_days,
            last_billed_on=last_billed_on,
            today=today,
        )
        rows.append(
            _Row(
                estimate=Estimate(
                    prepaid_id=pk,
                    account_id=acct,
                    estimated_on=today,
                    available=available,
                    billed_amount=billed_amount,
                    billed_days=billed_days,
                    daily_cost=daily,
                    last_billed_on=last_billed_on,
                    spend_since=spend,
                    remaining=remaining,
                    days_left=days_left,
                    is_low=_is_low(remaining, days_left, threshold, threshold_days),
                ),
                threshold=threshold,
                alert_state=state,
                latest_on=_day(latest_on),
            )
        )
    return rows


def prepaid_estimate_live(account: Account, *, today: date | None = None) -> Estimate | None:
    """The estimate of one enrolled account as of `today`, computed now (not stored); None if not enrolled."""
    rows = _estimate_rows(today or timezone.localdate(), account_id=account.pk)
    return rows[0].estimate if rows else None


def prepaid_estimates_live(accounts, *, today: date) -> dict[int, Estimate]:
    """`prepaid_estimate_live` of each of `accounts` enrolled in prepaid, by account id (one query to find them,
    then one per enrolled account; a customer's bound accounts are few)."""
    by_id = {a.pk: a for a in accounts}
    enrolled = PrepaidAccount.objects.filter(account_id__in=list(by_id), unenrolled_on__isnull=True)
    out = {}
    for account_id in enrolled.values_list("account_id", flat=True):
        estimate = prepaid_estimate_live(by_id[account_id], today=today)
        if estimate is not None:
            out[account_id] = estimate
    return out


# ---------------------------------------------------------------- the daily run


@dataclass(frozen=True)
class RunResult:
    today: date
    estimated: int
    alerts_raised: int
    rearmed: int
    alert_ids: list[int]


def _chunks(ids: list[int], size: int = BATCH):
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


@transaction.atomic
def prepaid_estimate_run(*, today: date, actor: Actor | None = None) -> RunResult:
    """Estimate every enrolled account as of `today`, store the day's rows and raise the alerts that cross
    (see the module docstring). Re-running a day replaces its estimates and raises nothing twice."""
    if connection.vendor == "postgresql":  # two runs at once would both see "armed": one after the other
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
    now = timezone.now()
    rows = _estimate_rows(today)
    PrepaidEstimate.objects.bulk_create(
        [
            PrepaidEstimate(
                prepaid_id=r.estimate.prepaid_id,
                estimated_on=today,
                available=r.estimate.available,
                billed_amount=r.estimate.billed_amount,
                billed_days=r.estimate.billed_days,
                daily_cost=r.estimate.daily_cost,
                last_billed_on=r.estimate.last_billed_on,
                spend_since=r.estimate.spend_since,
                remaining=r.estimate.remaining,
                days_left=r.estimate.days_left,
                is_low=r.estimate.is_low,
                created_at=now,
            )
            for r in rows
        ],
        batch_size=ESTIMATE_BATCH,
        update_conflicts=True,
        unique_fields=["prepaid", "estimated_on"],
        update_fields=[
            "available",
            "billed_amount",
            "billed_days",
            "daily_cost",
            "last_billed_on",
            "spend_since",
            "remaining",
            "days_left",
            "is_low",
            "created_at",
        ],
    )
    # Each enrolled account points at its newest estimate (a backfill of an earlier day does not move it).
    (
        PrepaidAccount.objects.filter(unenrolled_on__isnull=True)
        .filter(Q(last_estimate__isnull=True) | Q(last_estimate__estimated_on__lte=today))
        .update(
            last_estimate=Subquery(
                PrepaidEstimate.objects.filter(prepaid=OuterRef("pk"), estimated_on=today).values("pk")[:1]
            )
        )
    )

    current = [r for r in rows if r.latest_on is None or r.latest_on <= today]
    going_low = [r for r in current if r.estimate.is_low and r.alert_state == PrepaidAlertState.ARMED]
    rearm = [
        r.estimate.prepaid_id
        for r in current
        if not r.estimate.is_low and r.alert_state == PrepaidAlertState.LOW
    ]
    raised_today = set(PrepaidAlert.objects.filter(raised_on=today).values_list("prepaid_id", flat=True))
    alerts = PrepaidAlert.objects.bulk_create(
        [
            PrepaidAlert(
                prepaid_id=r.estimate.prepaid_id,
                raised_on=today,
                remaining=r.estimate.remaining,
                days_left=r.estimate.days_left,
                threshold=r.threshold,
                created_at=now,
            )
            for r in going_low
            if r.estimate.prepaid_id not in raised_today
        ],
        batch_size=BATCH,
    )
    low_ids = [r.estimate.prepaid_id for r in going_low]
    for ids in _chunks(low_ids):
        PrepaidAccount.objects.filter(pk__any=ids, alert_state=PrepaidAlertState.ARMED).update(
            alert_state=PrepaidAlertState.LOW, alert_changed_on=today, updated_at=now
        )
    for ids in _chunks(rearm):
        PrepaidAccount.objects.filter(pk__any=ids, alert_state=PrepaidAlertState.LOW).update(
            alert_state=PrepaidAlertState.ARMED, alert_changed_on=today, updated_at=now
        )
    alert_ids = [a.pk for a in alerts]
    audit_record(
        actor=actor or Actor(),
        action="prepaid.estimate_run",
        object_type="payments.prepaidestimate",
        object_id=today.isoformat(),
        changes={
            "today": today.isoformat(),
            "estimated": len(rows),
            "alerts_raised": len(alert_ids),
            "rearmed": len(rearm),
        },
    )
    if alert_ids:
        transaction.on_commit(lambda: on_prepaid_low_balance(list(alert_ids)))
    return RunResult(
        today=today,
        estimated=len(rows),
        alerts_raised=len(alert_ids),
        rearmed=len(rearm),
        alert_ids=alert_ids,
    )


# ---------------------------------------------------------------- reads (scoped to the user's units)


def prepaid_visible(*, user) -> QuerySet[PrepaidAccount]:
    """Enrolled prepaid accounts of the user's units, with the account, holder and latest estimate."""
    return restrict(
        PrepaidAccount.objects.filter(unenrolled_on__isnull=True).select_related(
            "account__customer", "account__unit", "last_estimate"
        ),
        user,
        Perm.CUSTOMER_VIEW,
        unit_field="account__unit_id",
    )


def prepaid_search(*, user, alert_state: str = "", max_days: int | None = None, q: str = "") -> QuerySet:
    """The console list: filter by alert state, days left at most `max_days`, 户号 prefix."""
    qs = prepaid_visible(user=user)
    if alert_state:
        qs = qs.filter(alert_state=alert_state)
    if max_days is not None:
        qs = qs.filter(last_estimate__days_left__lte=max_days)
    if q:
        qs = qs.filter(account__account_number__startswith=q)
    return qs.order_by("account__account_number")


def prepaid_of(account: Account) -> PrepaidAccount | None:
    """The account's prepaid enrolment (current or past) with its latest estimate, or None."""
    return PrepaidAccount.objects.select_related("last_estimate").filter(account_id=account.pk).first()


def prepaid_recent_estimates(p: PrepaidAccount, limit: int = 30) -> list[PrepaidEstimate]:
    return list(p.estimates.order_by("-estimated_on")[:limit])


def prepaid_recent_alerts(p: PrepaidAccount, limit: int = 10) -> list[PrepaidAlert]:
    return list(p.alerts.order_by("-raised_on", "-id")[:limit])
