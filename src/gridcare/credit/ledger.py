"""Credit events derived by the system (issue 17 §1): arrears episodes from the ledger, and `wrong_bank_account`
candidates from failed withholdings. Set-based: per chunk of accounts, bulk reads of receivables, their live
allocations and payments, the computation in Python per account, then bulk writes. Runs on SQLite and PostgreSQL.

The rules, and the choices where the issue was silent:

- A bill (receivable, not cancelled) is *paid in full on* the local (Asia/Shanghai) date of the latest
  non-reversed allocation's `payment.paid_at`, when `principal_paid == principal`; otherwise it is unpaid. A bill
  paid in full without any live allocation (zero principal) is taken as paid on time. A payment dated after
  `today` does not count yet (the bill is unpaid as of `today`).
- A bill is *overdue* when it was not paid in full by `due_date + policy.grace_days`, judged as of `today`: paid
  after that day, or still unpaid while `today` is past it.
- An *arrears episode* is a run of consecutive billing months (periods "YYYY-MM" adjacent month by month) of
  overdue bills of one account. Two bills of the same period (a re-bill) count as one month of the run.
  It makes ONE `arrears` event: source ledger, status active at once, the account, the account's customer and
  that customer's unit, dated the day after the first bill's due date (the grace moves when a bill is overdue,
  not the event's date), severity = max(run length in months, whole calendar months the oldest bill stayed
  unpaid from its due date to its paid-in-full date or to `today`), capped at 3. Whole months are counted
  forward from the due date, the day clamped to the month's end (`core.dates.months_back`): due 09-20, paid
  11-20 → 2; paid 11-19 → 1; due 12-31, still unpaid on 02-28 → 2.
- An episode whose bills were all paid in full on or before the last day of the calendar month following the
  month of the episode's last due date adds one `arrears_cleared_next_month` event, dated the day the last of
  them was paid.
- Stable keys: `arrears:<account id>:<first period>` and `cleared:<account id>:<first period>`. A re-run updates
  the date and severity of existing rows (audited `credit.event_update`), creates the new ones (through
  `events.event_create`, audited `credit.event_create`), and voids the derived rows whose episode no longer
  exists (a reversed payment or a cancelled bill changed history; audited `credit.event_void`). A row voided this
  way comes back (active, audited `credit.event_update`) when its episode reappears; a row voided by an annulled
  contest never does. A contested row keeps its status: only its severity and date are kept current. Nothing is
  ever dated after `today`.
- Only receivables due within the last 37 months are read. Episodes that begin in the oldest of those months
  are only context (their start may lie before the window): rows dated on or before `today − 36 months` are
  neither created, changed nor voided. The rating looks back 36 months at most.
- Withholding: an item whose status is failed with a `result_code` listed in `policy.wrong_account_codes`
  proposes one `wrong_bank_account` event, status candidate, source withholding, key `withholding:<item id>`,
  dated the local day the item was settled (else its batch; else the batch's creation), never after `today`.
  Proposals are created once; staff confirm or dismiss them (`services`). Items of batches made more than 37
  months ago are not read.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from gridcare.core.audit import Actor, audit_record
from gridcare.core.dates import months_back
from gridcare.core.models import AuditEvent

from .choices import EventCode, EventSource, EventStatus
from .events import event_create
from .models import CreditEvent
from .policy import current_policy

WINDOW_MONTHS = 37
FROZEN_MONTHS = 36
CHUNK = 2000
# Marks a row this module voided (so it may come back): never set by a person's decision.
DERIVED_VOID_NOTE = "ledger: episode no longer exists"


@dataclass
class Bill:
    receivable_id: int
    period: str
    due: date
    paid_on: date | None  # None: unpaid as of today


@dataclass
class Episode:
    account_id: int
    bills: list[Bill] = field(default_factory=list)

    @property
    def first(self) -> Bill:
        return self.bills[0]

    @property
    def months(self) -> int:
        return len({b.period for b in self.bills})


def _month_index(period: str) -> int:
    y, m = period.split("-")
    return int(y) * 12 + int(m) - 1


def whole_months(start: date, end: date) -> int:
    """Whole calendar months from `start` to `end`: the largest n with start + n months ≤ end, counting forward
    with the day clamped to the month's end (a bill due 12-31 and still unpaid on 02-28 is two months late;
    due 01-31, on 02-28 one)."""
    if end <= start:
        return 0
    n = (end.year * 12 + end.month) - (start.year * 12 + start.month)
    if n > 0 and months_back(start, -n) > end:
        n -= 1
    return max(n, 0)


def _last_of_next_month(day: date) -> date:
    y, m = divmod(day.year * 12 + day.month, 12)  # month index of the next month (0-based month)
    m += 1
    return date(y, m, calendar.monthrange(y, m)[1])


def episodes_of(bills: list[Bill], *, today: date, grace: int) -> list[Episode]:
    """The arrears episodes of one account's bills (any order)."""
    overdue = [
        b
        for b in sorted(bills, key=lambda b: (b.period, b.due, b.receivable_id))
        if (b.paid_on is None and today > b.due + timedelta(days=grace))
        or (b.paid_on is not None and b.paid_on > b.due + timedelta(days=grace))
    ]
    out: list[Episode] = []
    for b in overdue:
        if out and _month_index(b.period) - _month_index(out[-1].bills[-1].period) in (0, 1):
            out[-1].bills.append(b)
        else:
            out.append(Episode(account_id=0, bills=[b]))
    return out


def severity_of(ep: Episode, *, today: date) -> int:
    oldest = min(ep.bills, key=lambda b: (b.due, b.receivable_id))
    months = whole_months(oldest.due, oldest.paid_on or today)
    return min(3, max(ep.months, months))


def cleared_on(ep: Episode) -> date | None:
    """The day the last bill was paid, when all were paid by the end of the month after the last due date."""
    if any(b.paid_on is None for b in ep.bills):
        return None
    last_paid = max(b.paid_on for b in ep.bills)  # type: ignore[type-var]
    last_due = max(b.due for b in ep.bills)
    return last_paid if last_paid <= _last_of_next_month(last_due) else None


@dataclass
class Wanted:
    key: str
    code: str
    account_id: int
    day: date
    severity: int | None


def _bills_by_account(account_ids: list[int], *, since: date, today: date) -> dict[int, list[Bill]]:
    from gridcare.payments.models import Allocation, Receivable

    rows = list(
        Receivable.objects.filter(
            account_id__in=account_ids, cancelled_at__isnull=True, due_date__gte=since, due_date__lte=today
        ).values_list("id", "account_id", "period", "due_date", "principal", "principal_paid")
    )
    if not rows:
        return {}
    latest: dict[int, datetime] = {}
    for rid, paid_at in Allocation.objects.filter(
        reversed=False,
        receivable__account_id__in=account_ids,
        receivable__cancelled_at__isnull=True,
        receivable__due_date__gte=since,
        receivable__due_date__lte=today,
    ).values_list("receivable_id", "payment__paid_at"):
        if rid not in latest or paid_at > latest[rid]:
            latest[rid] = paid_at
    out: dict[int, list[Bill]] = defaultdict(list)
    for rid, account_id, period, due, principal, paid in rows:
        if principal <= 0:
            continue  # nothing to pay: never overdue
        paid_on: date | None = None
        if paid >= principal:
            at = latest.get(rid)
            paid_on = timezone.localdate(at) if at is not None else due  # fully paid, no live allocation
            if paid_on > today:
                paid_on = None  # a payment dated after today does not count yet
        out[account_id].append(Bill(receivable_id=rid, period=period, due=due, paid_on=paid_on))
    return out


def _wanted(bills: dict[int, list[Bill]], *, today: date, grace: int, frozen: date) -> dict[str, Wanted]:
    out: dict[str, Wanted] = {}
    for account_id, rows in bills.items():
        for ep in episodes_of(rows, today=today, grace=grace):
            day = ep.first.due + timedelta(days=1)
            if day <= frozen or day > today:
                continue
            key = f"arrears:{account_id}:{ep.first.period}"
            out[key] = Wanted(key, EventCode.ARREARS, account_id, day, severity_of(ep, today=today))
            cleared = cleared_on(ep)
            if cleared is not None and cleared <= today:
                ckey = f"cleared:{account_id}:{ep.first.period}"
                out[ckey] = Wanted(ckey, EventCode.ARREARS_CLEARED_NEXT_MONTH, account_id, cleared, None)
    return out


def _sync(
    wanted: dict[str, Wanted], existing: list[CreditEvent], *, actor: Actor, today: date, frozen: date, now
) -> dict[str, int]:
    from gridcare.customers.models import Account

    counts = {"created": 0, "updated": 0, "voided": 0}
    by_key = {e.source_key: e for e in existing}
    changed: list[CreditEvent] = []
    audits: list[AuditEvent] = []
    for e in existing:
        if e.date <= frozen:
            continue
        w = wanted.get(e.source_key)
        if w is None:
            if e.status == EventStatus.ACTIVE:
                e.status, e.decision_note, e.updated_at = EventStatus.VOID, DERIVED_VOID_NOTE, now
                changed.append(e)
                counts["voided"] += 1
                audits.append(
                    audit_record(
                        actor=actor,
                        action="credit.event_void",
                        obj=e,
                        customer_id=e.customer_id,
                        unit_id=e.unit_id,
                        changes={"status": [EventStatus.ACTIVE, EventStatus.VOID], "reason": "ledger"},
                        save=False,
                    )
                )
            continue
        diff: dict = {}
        if e.date != w.day:
            diff["date"] = [e.date.isoformat(), w.day.isoformat()]
            e.date = w.day
        if e.severity != w.severity:
            diff["severity"] = [e.severity, w.severity]
            e.severity = w.severity
        if e.status == EventStatus.VOID and e.decision_note == DERIVED_VOID_NOTE:
            diff["status"] = [EventStatus.VOID, EventStatus.ACTIVE]
            e.status, e.decision_note = EventStatus.ACTIVE, ""
        elif e.status not in (EventStatus.ACTIVE, EventStatus.CONTESTED):
            continue  # voided by a decision: left as decided
        if diff:
            e.updated_at = now
            changed.append(e)
            counts["updated"] += 1
            audits.append(
                audit_record(
                    actor=actor,
                    action="credit.event_update",
                    obj=e,
                    customer_id=e.customer_id,
                    unit_id=e.unit_id,
                    changes={**diff, "reason": "ledger"},
                    save=False,
                )
            )
    if changed:
        CreditEvent.objects.bulk_update(
            changed, ["status", "decision_note", "date", "severity", "updated_at"], batch_size=1000
        )
        AuditEvent.objects.bulk_create(audits, batch_size=1000)
    new = [w for k, w in wanted.items() if k not in by_key]
    if new:
        owners = {
            a: (c, u)
            for a, c, u in Account.objects.filter(pk__in={w.account_id for w in new}).values_list(
                "pk", "customer_id", "customer__unit_id"
            )
        }
        for w in sorted(new, key=lambda w: (w.account_id, w.day, w.key)):
            customer_id, unit_id = owners[w.account_id]
            try:
                event_create(
                    actor=actor,
                    customer_id=customer_id,
                    unit_id=unit_id,
                    code=w.code,
                    day=w.day,
                    source=EventSource.LEDGER,
                    status=EventStatus.ACTIVE,
                    account_id=w.account_id,
                    severity=w.severity,
                    source_key=w.key,
                    now=now,
                )
            except IntegrityError:  # a concurrent run made it first (event_create's savepoint rolled back)
                continue
            counts["created"] += 1
    return counts


def _account_chunks(account_ids: Iterable[int] | None):
    from gridcare.customers.models import Account

    if account_ids is not None:
        ids = sorted(set(account_ids))
        for i in range(0, len(ids), CHUNK):
            yield ids[i : i + CHUNK]
        return
    last = 0
    while True:
        ids = list(Account.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:CHUNK])
        if not ids:
            return
        yield ids
        last = ids[-1]


def arrears_derive(
    *, today: date, actor: Actor | None = None, account_ids: Iterable[int] | None = None, now=None
) -> dict[str, int]:
    """Derive (create, update, void) the `arrears` and `arrears_cleared_next_month` events as of `today`, for
    every account or the ones given. Idempotent. Returns counts."""
    actor = actor or Actor()
    now = now or timezone.now()
    grace = current_policy().grace_days
    since = months_back(today, WINDOW_MONTHS)
    frozen = months_back(today, FROZEN_MONTHS)
    totals = {"created": 0, "updated": 0, "voided": 0, "accounts": 0}
    for ids in _account_chunks(account_ids):
        with transaction.atomic():
            bills = _bills_by_account(ids, since=since, today=today)
            wanted = _wanted(bills, today=today, grace=grace, frozen=frozen)
            existing = list(
                CreditEvent.objects.select_for_update()
                .filter(source=EventSource.LEDGER, account_id__in=ids, date__gt=frozen)
                .filter(Q(source_key__startswith="arrears:") | Q(source_key__startswith="cleared:"))
            )
            counts = _sync(wanted, existing, actor=actor, today=today, frozen=frozen, now=now)
        for k, v in counts.items():
            totals[k] += v
        totals["accounts"] += len(ids)
    return totals


def withholding_candidates_derive(*, today: date, actor: Actor | None = None, now=None) -> dict[str, int]:
    """Propose a `wrong_bank_account` candidate for each failed withholding item with a wrong-account code not
    proposed yet. Idempotent (the key is the item)."""
    from gridcare.payments.channels.models import WithholdingItem
    from gridcare.payments.choices import ItemStatus

    actor = actor or Actor()
    now = now or timezone.now()
    codes = [str(c) for c in (current_policy().wrong_account_codes or [])]
    if not codes:
        return {"created": 0}
    since = months_back(today, WINDOW_MONTHS)
    start = timezone.make_aware(datetime(since.year, since.month, since.day))  # noqa: DTZ001
    rows = list(
        WithholdingItem.objects.filter(
            status=ItemStatus.FAILED, result_code__in=codes, batch__created_at__gte=start
        )
        .order_by("id")
        .values_list(
            "id",
            "account_id",
            "account__customer_id",
            "account__customer__unit_id",
            "settled_at",
            "batch__settled_at",
            "batch__created_at",
            "result_code",
        )
    )
    created = 0
    for i in range(0, len(rows), CHUNK):
        chunk = rows[i : i + CHUNK]
        keys = {f"withholding:{r[0]}" for r in chunk}
        have = set(CreditEvent.objects.filter(source_key__in=keys).values_list("source_key", flat=True))
        with transaction.atomic():
            for (
                item_id,
                account_id,
                customer_id,
                unit_id,
                settled,
                batch_settled,
                batch_created,
                code,
            ) in chunk:
                key = f"withholding:{item_id}"
                if key in have:
                    continue
                day = timezone.localdate(settled or batch_settled or batch_created)
                if day > today:
                    continue
                try:
                    event_create(
                        actor=actor,
                        customer_id=customer_id,
                        unit_id=unit_id,
                        code=EventCode.WRONG_BANK_ACCOUNT,
                        day=day,
                        source=EventSource.WITHHOLDING,
                        status=EventStatus.CANDIDATE,
                        account_id=account_id,
                        description=f"代扣失败，银行返回码 {code}",
                        source_key=key,
                        now=now,
                    )
                except IntegrityError:  # a concurrent run proposed it first
                    continue
                created += 1
    return {"created": created}


def derive_all(*, today: date, actor: Actor | None = None) -> dict:
    """Both derivations as of `today` (the daily job, and the monthly rating run before it rates)."""
    return {
        "arrears": arrears_derive(today=today, actor=actor),
        "withholding": withholding_candidates_derive(today=today, actor=actor),
    }
