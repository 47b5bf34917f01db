"""The set-based billing run: chunks of accounts, bulk reads, rating in Python, bulk writes.

Per chunk of accounts (walked in id order after the run's checkpoint), a fixed number of queries,
whatever the chunk size: the accounts already billed, the service points' tariff codes, the period's
read sums (one aggregate), the year-to-date kWh of earlier bills (one aggregate), then COPY (or
`bulk_create`) of bills, lines and exceptions and one update of the run row. Each chunk is a task of the job
engine (`tasks.bill_chunk`, see "execution" below), so a run spreads over every worker of the cluster; each
commits on its own, so a crash loses at most the chunks in flight and the next execution continues from
`last_account_id`. The partial unique constraint on Bill (account, period_start) is the last guard against a
double bill.

Reads of a period: those with `read_at` in [first day 00:00, next month's first day 00:00) local time
and a consumption (a meter's first read has none). Flagged reads are not billed: an account with one
goes to the exceptions ("unvalidated_read") until the reading exception is handled. A bill is
`estimated` when any read it used was estimated (source or status).

TOU tariffs bill the period sums of the reads' TOU kWh (`MeterRead.kwh_*`, which add up to the read's
consumption); a read in the period without them sends the account to the exceptions ("meter_data").
Two-part tariffs take the basic charge by contract capacity (the service point's kVA), or by the period's
maximum demand (the largest `demand_kw` of its reads) when the service point says `basic_by_demand`.
The power factor of a tariff with a PF target is the period's average, kWh / √(kWh² + kvarh²), from the
reads' reactive energy; a period without kWh has no adjustment (PF = the target).

Move-in / move-out: an account opened after the first day or closed before the last day of the period is
rated over its own days only (`rate(month_days=…)` shares the basic charge and monthly tiers by days); an
account closed before the period or opened after it is skipped (neither billed nor an exception), and so is
an account opened inside the period that has no billable read yet (its installation read only): its first
bill comes with its next read.
"""

import gc
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import EmptyResultSet
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Max, Q, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from gridcare.customers.models import Account, ServicePoint
from gridcare.jobs.models import Job
from gridcare.metering.choices import ReadSource, ReadStatus
from gridcare.metering.models import MeterRead, Route, RouteMembership

from . import leases
from .models import (
    Bill,
    BillingException,
    BillingExceptionReason,
    BillingRun,
    BillingRunChunk,
    BillingRunLease,
    BillingRunStatus,
    BillLine,
    BillStatus,
    TariffVersion,
)
from .rating import (
    TOU_PERIODS,
    Compiled,
    FastResult,
    RatingError,
    Usage,
    VersionSpan,
    compile_prepared,
    exact_units,
    line_labels,
    parse_params,
    prepare,
    rate_prepared,
    round_pf,
)

CHUNK_SIZE = 5000  # the default of GRIDCARE["BILLING_CHUNK_SIZE"]


def chunk_size_setting() -> int:
    from django.conf import settings

    return max(1, int(getattr(settings, "GRIDCARE", {}).get("BILLING_CHUNK_SIZE") or CHUNK_SIZE))


ZERO = Decimal("0.00")

Progress = Callable[[BillingRun], None]


def period_bounds(period_start: date, period_end: date) -> tuple[datetime, datetime]:
    """Aware local datetimes [start of the first day, start of the day after the last)."""
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(period_start, time.min, tzinfo=tz),
        datetime.combine(period_end + timedelta(days=1), time.min, tzinfo=tz),
    )


def load_spans(period_start: date, period_end: date) -> tuple[dict[str, list[VersionSpan]], dict[str, str]]:
    """Every tariff's versions overlapping the period, parsed once: ({code: spans}, {code: parse error})."""
    spans: dict[str, list[VersionSpan]] = {}
    broken: dict[str, str] = {}
    rows = (
        TariffVersion.objects.filter(valid_from__lte=period_end)
        .exclude(valid_to__lt=period_start)
        .select_related("tariff")
        .order_by("tariff__code", "valid_from")
    )
    for v in rows:
        code = v.tariff.code
        try:
            params = parse_params(v.parameters)
        except RatingError as exc:
            broken[code] = "; ".join(f"{k}: {m}" for k, m in exc.errors.items())
            continue
        spans.setdefault(code, []).append(
            VersionSpan(v.valid_from, v.valid_to, params, label=f"{code}@{v.valid_from.isoformat()}")
        )
    return spans, broken


@dataclass(slots=True)
class Rated:
    """What the run computes for one account, before anything is written."""

    account_id: int
    unit_id: int
    tariff_code: str
    kwh: Decimal
    ytd: Decimal
    estimated: bool
    start: date | None = None
    end: date | None = None
    result: object = None
    reason: str = ""
    message: str = ""
    skipped: bool = False
    tou: dict[str, Decimal] | None = None  # kWh per TOU period, for a TOU tariff
    kvarh: Decimal | None = None
    max_demand_kw: Decimal | None = None
    power_factor: Decimal | None = None


def average_pf(kwh: Decimal, kvarh: Decimal) -> Decimal:
    """Monthly average power factor kWh / √(kWh² + kvarh²), before rounding."""
    return kwh / (kwh * kwh + kvarh * kvarh).sqrt()


@dataclass(frozen=True)
class Traits:
    """What a tariff's versions over the period ask of the reads."""

    tou: bool
    two_part: bool
    pf_target: Decimal | None


def traits_of(spans: list[VersionSpan]) -> Traits:
    targets = [s.params.pf_target for s in spans if s.params.pf_target is not None]
    return Traits(
        tou=any(s.params.is_tou for s in spans),
        two_part=any(s.params.two_part for s in spans),
        pf_target=targets[0] if targets else None,
    )


def among(field: str, ids: list[int]) -> Q:
    """`field` in the sorted `ids`: as a range when they are dense (a million-account run walks contiguous ids),
    else as one array parameter (`= ANY`, not a 5,000-placeholder IN). Callers ignore rows of other ids."""
    if ids and ids[-1] - ids[0] < 2 * len(ids) + 100:
        return Q(**{f"{field}__gte": ids[0], f"{field}__lte": ids[-1]})
    return Q(**{f"{field}__any": ids})  # one array parameter on PostgreSQL (gridcare.core.lookups)


def fetch(qs) -> list[tuple]:
    """The rows of a `values_list` queryset. On PostgreSQL its SQL runs on the raw cursor: psycopg already
    returns Decimal, date and bool, and skipping the ORM's per-value converters halves the cost of a chunk."""
    if connection.vendor != "postgresql":
        return list(qs)
    try:
        sql, params = qs.query.sql_with_params()
    except EmptyResultSet:
        return []
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


# The period's read aggregates of an account, as `compute` fetches them: (account_id, *READ_AGGREGATES).
READ_AGGREGATES = [
    "kwh",
    "n",
    "flagged",
    "estimated",
    "tou_missing",
    "kvarh_missing",
    "kvarh",
    "demand",
    *(f"kwh_{p}" for p in TOU_PERIODS),
]
R_KWH, R_N, R_FLAGGED, R_ESTIMATED, R_TOU_MISSING, R_KVARH_MISSING, R_KVARH, R_DEMAND, R_TOU = range(1, 10)


def compute(
    account_ids: Iterable[int],
    period_start: date,
    period_end: date,
    spans: dict[str, list[VersionSpan]],
    broken: dict[str, str],
    plans: dict | None = None,
) -> list[Rated]:
    """Rate the given accounts from their current reads: four queries, then Python only.

    `plans` caches the prepared tariffs across chunks: (code, start, end, language) → (Prepared or RatingError,
    its integer rater `rating.Compiled` or None). Bills the integer rater covers get a `rating.FastResult`,
    the others a `RatingResult` (both have `total` and `lines`)."""
    plans = {} if plans is None else plans
    month_days = (period_end - period_start).days + 1
    traits = {code: traits_of(v) for code, v in spans.items()}
    ids = sorted(account_ids)
    labels = line_labels()
    accounts = {
        pk: (unit_id, opened, closed)
        for pk, unit_id, opened, closed in fetch(
            Account.objects.filter(among("pk", ids)).values_list("pk", "unit_id", "opened_on", "closed_on")
        )
    }
    tariff_of: dict[int, str] = {}
    capacity_of: dict[int, Decimal | None] = {}
    by_demand: dict[int, bool] = {}
    for acc, code, kva, demand in fetch(
        ServicePoint.objects.filter(among("account_id", ids))
        .exclude(tariff_code="")
        .order_by("account_id", "id")
        .values_list("account_id", "tariff_code", "contract_capacity_kva", "basic_by_demand")
    ):
        tariff_of.setdefault(acc, code)
        capacity_of.setdefault(acc, kva)
        by_demand.setdefault(acc, demand)
    lo, hi = period_bounds(period_start, period_end)
    estimated_q = Q(source=ReadSource.ESTIMATED) | Q(status=ReadStatus.ESTIMATED)
    ok = ~Q(status=ReadStatus.FLAGGED)
    no_tou = Q(kwh_sharp__isnull=True, kwh_peak__isnull=True, kwh_flat__isnull=True, kwh_valley__isnull=True)
    aggregates = {
        "kwh": Sum("consumption", filter=ok),
        "n": Count("id", filter=ok),
        "flagged": Count("id", filter=Q(status=ReadStatus.FLAGGED)),
        "estimated": Count("id", filter=estimated_q & ok),
        "tou_missing": Count("id", filter=no_tou & ok),
        "kvarh_missing": Count("id", filter=Q(kvarh__isnull=True) & ok),
        "kvarh": Sum("kvarh", filter=ok),
        "demand": Max("demand_kw", filter=ok),
        **{f"kwh_{p}": Sum(f"kwh_{p}", filter=ok) for p in TOU_PERIODS},
    }
    names = list(aggregates)
    assert names == READ_AGGREGATES  # noqa: S101 — the R_* positions below
    reads = {
        row[0]: row
        for row in fetch(
            MeterRead.objects.filter(
                among("account_id", ids), read_at__gte=lo, read_at__lt=hi, consumption__isnull=False
            )
            .values("account_id")
            .annotate(**aggregates)
            .order_by()
            .values_list("account_id", *names)
        )
    }
    ytd = dict(
        fetch(
            Bill.objects.filter(
                among("account_id", ids),
                period_start__gte=date(period_start.year, 1, 1),
                period_start__lt=period_start,
            )
            .exclude(status=BillStatus.CANCELLED)
            .values("account_id")
            .annotate(s=Sum("kwh_total"))
            .order_by()
            .values_list("account_id", "s")
        )
    )
    lang = translation.get_language()
    # code → (its plan over the whole period, the plan's integer rater or None): most bills cover the period.
    whole_period: dict[str, tuple] = {}
    out: list[Rated] = []
    for acc in ids:
        row = reads.get(acc)
        code = tariff_of.get(acc, "")
        unit_id, opened, closed = accounts[acc]
        whole = True
        start, end = period_start, period_end
        if opened and opened > period_start:
            start, whole = opened, False
        if closed and closed < period_end:
            end, whole = closed, False
        item = Rated(
            acc,
            unit_id,
            code,
            ZERO if row is None or row[R_KWH] is None else row[R_KWH],
            ytd.get(acc) or ZERO,
            bool(row and row[R_ESTIMATED]),
            start,
            end,
        )
        out.append(item)
        if start > end:
            item.skipped = True  # closed before the period or opened after it: nothing to bill
            continue
        if row and row[R_FLAGGED]:
            item.reason = BillingExceptionReason.UNVALIDATED_READ
            item.message = _("有 %(n)s 条异常示数尚未处理") % {"n": row[R_FLAGGED]}
            continue
        if not row or not row[R_N]:
            if opened and opened > period_start:
                item.skipped = (
                    True  # opened in the period and only its installation read so far: bills next time
                )
                continue
            item.reason = BillingExceptionReason.NO_READ
            item.message = _("本期没有可计费的抄表记录")
            continue
        entry = whole_period.get(code) if whole else None
        if entry is None:
            if code in broken or code not in spans:
                item.reason = BillingExceptionReason.UNKNOWN_TARIFF
                item.message = broken.get(code) or _("电价代码“%(c)s”在本期没有有效版本") % {"c": code or "—"}
                continue
            key = (code, start, end, lang)
            entry = plans.get(key)
            if entry is None:
                try:
                    plan = prepare(
                        versions=spans[code], period_start=start, period_end=end, month_days=month_days
                    )
                except RatingError as exc:
                    entry = plans[key] = (exc, None)
                else:
                    entry = plans[key] = (plan, compile_prepared(plan, labels))
            if whole:
                whole_period[code] = entry
        plan, compiled = entry
        tr = traits[code]
        if tr.tou or tr.two_part or tr.pf_target is not None:
            missing = _meter_data_missing(row, tr, by_demand.get(acc, False))
            if missing:
                item.reason = BillingExceptionReason.METER_DATA
                item.message = missing
                continue
        tou_row = None
        if tr.tou:
            tou_row = row[R_TOU : R_TOU + 4]
            item.tou = {p: q for p, q in zip(TOU_PERIODS, tou_row, strict=True) if q is not None}
            if sum(item.tou.values(), ZERO) != item.kwh:
                item.reason = BillingExceptionReason.METER_DATA
                item.message = _("分时段电量之和 %(s)s 与总电量 %(t)s 不符") % {
                    "s": sum(item.tou.values(), ZERO),
                    "t": item.kwh,
                }
                continue
        if compiled is not None and not tr.two_part and tr.pf_target is None:
            # The integer rater (`rating.Compiled`): None sends the bill to `rate_prepared`.
            kwh_units = exact_units(item.kwh, 2)
            ytd_units = exact_units(item.ytd, 2) if item.ytd else 0
            periods = None
            if tou_row is not None:
                periods = tuple(None if q is None else exact_units(q, 2) for q in tou_row)
                if periods.count(None) != tou_row.count(None):
                    periods = None
            if kwh_units is not None and ytd_units is not None and (periods is not None or tou_row is None):
                item.result = compiled.rate(kwh_units, periods, ytd_units)
                if item.result is not None:
                    continue
        if tr.tou:
            usage = (
                Usage(item.kwh, item.tou)
                if min(item.tou.values(), default=ZERO) >= 0
                else Usage.of(**item.tou)
            )
        else:
            usage = Usage(item.kwh) if item.kwh >= 0 else Usage.of(total=item.kwh)
        if tr.two_part and by_demand.get(acc, False):
            item.max_demand_kw = row[R_DEMAND]
        if tr.pf_target is not None:
            item.kvarh = row[R_KVARH]
            item.power_factor = round_pf(average_pf(item.kwh, item.kvarh)) if item.kwh > 0 else tr.pf_target
        try:
            if isinstance(plan, RatingError):
                raise plan
            item.result = rate_prepared(
                plan,
                usage,
                ytd_kwh_before=item.ytd,
                capacity_kva=None if item.max_demand_kw is not None else capacity_of.get(acc),
                max_demand_kw=item.max_demand_kw,
                power_factor=item.power_factor,
                labels=labels,
            )
        except RatingError as exc:
            item.reason = BillingExceptionReason.RATING_ERROR
            item.message = "; ".join(f"{k}: {m}" for k, m in exc.errors.items())
    return out


def _meter_data_missing(row: tuple, tr: Traits, by_demand: bool) -> str:
    """Why the period's reads cannot feed this tariff (empty when they can)."""
    if tr.tou and row[R_TOU_MISSING]:
        return _("本期有 %(n)s 条示数没有分时段电量，分时电价无法计费") % {"n": row[R_TOU_MISSING]}
    if tr.two_part and by_demand and row[R_DEMAND] is None:
        return _("基本电费按最大需量计收，但本期示数没有最大需量")
    if tr.pf_target is not None and (row[R_KVARH_MISSING] or row[R_KVARH] is None):
        return _("本期示数缺少无功电量，无法计算功率因数")
    return ""


BILL_COLUMNS = (
    "id",
    "account_id",
    "unit_id",
    "period_start",
    "period_end",
    "run_id",
    "tariff_code",
    "kwh_total",
    "kwh_sharp",
    "kwh_peak",
    "kwh_flat",
    "kwh_valley",
    "kvarh",
    "max_demand_kw",
    "power_factor",
    "ytd_kwh_before",
    "estimated",
    "amount",
    "status",
    "due_date",
    "issued_at",
    "cancelled_at",
    "cancel_reason",
    "corrects_id",
    "created_at",
)
LINE_COLUMNS = (
    "bill_id",
    "seq",
    "code",
    "label",
    "quantity",
    "unit_price",
    "amount",
    "part_start",
    "part_end",
    "note",
)


def bill_values(
    it: Rated,
    *,
    run_id: int | None,
    period_start: date,
    period_end: date,
    now: datetime,
    corrects_id: int | None,
) -> dict:
    """A new draft bill's column values (everything but its id)."""
    tou = it.tou or {}
    return {
        "account_id": it.account_id,
        "unit_id": it.unit_id,
        "period_start": period_start,
        "period_end": period_end,
        "run_id": run_id,
        "tariff_code": it.tariff_code,
        "kwh_total": it.kwh,
        "kwh_sharp": tou.get("sharp"),
        "kwh_peak": tou.get("peak"),
        "kwh_flat": tou.get("flat"),
        "kwh_valley": tou.get("valley"),
        "kvarh": it.kvarh,
        "max_demand_kw": it.max_demand_kw,
        "power_factor": it.power_factor,
        "ytd_kwh_before": it.ytd,
        "estimated": it.estimated,
        "amount": it.result.total,
        "status": BillStatus.DRAFT.value,
        "due_date": None,
        "issued_at": None,
        "cancelled_at": None,
        "cancel_reason": "",
        "corrects_id": corrects_id,
        "created_at": now,
    }


def line_values(bill_id: int, item: Rated):
    for n, ln in enumerate(item.result.lines, start=1):
        yield (
            bill_id,
            n,
            ln.code,
            str(ln.label)[:100],
            ln.quantity,
            ln.unit_price,
            ln.amount,
            ln.part_start,
            ln.part_end,
            str(ln.note)[:200],
        )


def bill_rows(
    items: list[Rated],
    *,
    run_id: int | None,
    period_start: date,
    period_end: date,
    now: datetime,
    corrects_id: int | None = None,
) -> list[Bill]:
    """Unsaved Bill objects for the rated items (their lines come from `line_rows` once ids exist)."""
    return [
        Bill(
            **bill_values(
                it,
                run_id=run_id,
                period_start=period_start,
                period_end=period_end,
                now=now,
                corrects_id=corrects_id,
            )
        )
        for it in items
    ]


def line_rows(bill: Bill, item: Rated) -> list[BillLine]:
    return [BillLine(**dict(zip(LINE_COLUMNS, values, strict=True))) for values in line_values(bill.pk, item)]


def save_bills(items: list[Rated], bills: list[Bill]) -> None:
    """bulk_create bills then their lines. PostgreSQL and SQLite ≥ 3.35 both hand back the new ids."""
    Bill.objects.bulk_create(bills)
    if any(b.pk is None for b in bills):  # a backend without RETURNING: look the ids up once
        ids = dict(
            Bill.objects.filter(
                account_id__in=[b.account_id for b in bills], period_start=bills[0].period_start
            )
            .exclude(status=BillStatus.CANCELLED)
            .values_list("account_id", "pk")
        )
        for b in bills:
            b.pk = ids[b.account_id]
    BillLine.objects.bulk_create([ln for b, it in zip(bills, items, strict=True) for ln in line_rows(b, it)])


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: str, cache: dict[str, str]) -> str:
    """A text value for COPY's text format (backslash, tab and newlines escaped), memoised per chunk."""
    out = cache.get(value)
    if out is None:
        out = cache[value] = value.translate(_COPY_ESCAPES)
    return out


def _n(value) -> str:
    return "\\N" if value is None else str(value)


def copy_payloads(
    items: list[Rated], ids: list[int], *, run_id: int, period_start: date, period_end: date, now: datetime
) -> tuple[str, str]:
    """COPY text of the bills (columns BILL_COLUMNS, ids given) and their lines (LINE_COLUMNS).

    Written by hand rather than per-value adaptation: at a million bills the encoding is a third of the run.
    A bill rated in integers (`FastResult`) writes its quantities and amounts as they are, in hundredths
    ("12345e-2", which PostgreSQL reads as 123.45), and the text of each of its tariff's line kinds (code,
    label, unit price, dates) is made once per chunk."""
    texts: dict[str, str] = {}
    fragments: dict[Compiled, tuple[tuple[str, str, str], ...]] = {}
    head = f"{period_start.isoformat()}\t{period_end.isoformat()}\t{run_id}"
    tail = f"\t{BillStatus.DRAFT.value}\t\\N\t\\N\t\\N\t\t\\N\t{now.isoformat()}\n"
    no_tou = "\\N\t\\N\t\\N\t\\N"
    bills: list[str] = []
    lines: list[str] = []
    add_bill, add_line = bills.append, lines.append
    for bill_id, it in zip(ids, items, strict=True):
        tou = it.tou
        result = it.result
        fast = type(result) is FastResult
        add_bill(
            f"{bill_id}\t{it.account_id}\t{it.unit_id}\t{head}\t{_copy_text(it.tariff_code, texts)}\t{it.kwh}\t"
            + (
                f"{_n(tou.get('sharp'))}\t{_n(tou.get('peak'))}\t{_n(tou.get('flat'))}\t{_n(tou.get('valley'))}"
                if tou
                else no_tou
            )
            + f"\t{_n(it.kvarh)}\t{_n(it.max_demand_kw)}\t{_n(it.power_factor)}\t{it.ytd}\t"
            f"{'t' if it.estimated else 'f'}\t"
            + (f"{result.total_fen}e-2" if fast else str(result.total))
            + tail
        )
        if fast:
            frags = fragments.get(result.compiled)
            if frags is None:
                c = result.compiled
                frags = fragments[c] = tuple(
                    (
                        f"\t{_copy_text(k.code, texts)}\t{_copy_text(str(k.label)[:100], texts)}\t",
                        f"e-2\t{k.unit_price}\t",
                        f"e-2\t{c.start.isoformat()}\t{c.end.isoformat()}\t\n",
                    )
                    for k in c.kinds
                )
            seq = 0
            for k, q, amount in result.items:
                seq += 1
                kind_head, kind_mid, kind_tail = frags[k]
                add_line(f"{bill_id}\t{seq}{kind_head}{q}{kind_mid}{amount}{kind_tail}")
            continue
        for seq, ln in enumerate(result.lines, start=1):
            note = _copy_text(str(ln.note)[:200], texts) if ln.note else ""
            add_line(
                f"{bill_id}\t{seq}\t{_copy_text(ln.code, texts)}\t{_copy_text(str(ln.label)[:100], texts)}\t"
                f"{ln.quantity}\t{ln.unit_price}\t{ln.amount}\t{ln.part_start}\t{ln.part_end}\t{note}\n"
            )
    return "".join(bills), "".join(lines)


def copy_bills(
    items: list[Rated], *, run_id: int, period_start: date, period_end: date, now: datetime
) -> None:
    """PostgreSQL: the bills' ids drawn from their sequence in one query, then bills and lines with COPY."""
    q = connection.ops.quote_name
    bill_table, line_table = Bill._meta.db_table, BillLine._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [bill_table, len(items)],
        )
        ids = [r[0] for r in cur.fetchall()]
        bills, lines = copy_payloads(
            items, ids, run_id=run_id, period_start=period_start, period_end=period_end, now=now
        )
        raw = cur.cursor
        with raw.copy(f"COPY {q(bill_table)} ({', '.join(BILL_COLUMNS)}) FROM STDIN") as copy:
            copy.write(bills.encode())
        with raw.copy(f"COPY {q(line_table)} ({', '.join(LINE_COLUMNS)}) FROM STDIN") as copy:
            copy.write(lines.encode())


def scope_memberships(run: BillingRun):
    """The run's accounts: its route's, or those of every route of its unit's subtree."""
    qs = RouteMembership.objects.all()
    if run.route_id:
        return qs.filter(route_id=run.route_id)
    return qs.filter(route__unit__path__startswith=run.unit.path)


@contextmanager
def _gc_paused():
    """A chunk makes ~10 objects per account and frees them by reference counting; the cyclic collector
    would walk them again and again (measured: 40 % of the computing time), so it waits for the chunk."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _chunk_write(run: BillingRun, ids: list[int], spans, broken, plans: dict) -> tuple[int, int, int]:
    """Bill one chunk (in the caller's transaction): (bills written, change in the run's exception count,
    accounts skipped as not supplied in the period)."""
    with _gc_paused():
        return _chunk_write_inner(run, ids, spans, broken, plans)


def _chunk_write_inner(run: BillingRun, ids: list[int], spans, broken, plans: dict) -> tuple[int, int, int]:
    billed = set(
        Bill.objects.filter(among("account_id", ids), period_start=run.period_start)
        .exclude(status=BillStatus.CANCELLED)
        .values_list("account_id", flat=True)
    )
    todo = [i for i in ids if i not in billed]
    items = compute(todo, run.period_start, run.period_end, spans, broken, plans)
    now = timezone.now()
    good = [it for it in items if it.result is not None]
    if good and connection.vendor == "postgresql":
        copy_bills(good, run_id=run.pk, period_start=run.period_start, period_end=run.period_end, now=now)
    elif good:
        save_bills(
            good,
            bill_rows(good, run_id=run.pk, period_start=run.period_start, period_end=run.period_end, now=now),
        )
    # An account's exception is re-decided each time it is processed.
    removed, _by_model = BillingException.objects.filter(among("account_id", ids), run=run).delete()
    added = BillingException.objects.bulk_create(
        [
            BillingException(
                run=run, account_id=it.account_id, reason=it.reason, message=it.message[:1000], created_at=now
            )
            for it in items
            if it.result is None and not it.skipped
        ]
    )
    return len(good), len(added) - removed, sum(1 for it in items if it.skipped)


# ---------------------------------------------------------------- execution: a plan of chunks, one task each
#
# An execution holds the run's lease (`leases`) under a holder token, writes the plan (`BillingRunChunk` rows:
# the accounts after the checkpoint, `chunk_size` at a time) and hands each chunk to `run_chunk`: a Celery task
# per chunk on the workers of the cluster (`tasks.bill_chunk`), or one after the other in this process (tests,
# `--inline`, `execute`). A chunk's transaction locks its row (a chunk delivered twice runs once: the second
# finds it done), checks the lease is the execution's, bills, marks the chunk done, then locks the run row to
# add its counts (F()), move the checkpoint over the chunks finished in order, renew the lease and mirror the
# progress on the job; the chunk that brings `chunks_done` to `chunks_total` marks the run done, releases the
# lease and finishes the job. A chunk that fails marks the run failed (its error kept) and releases the lease:
# the chunks still queued of that execution then find the lease gone and write nothing. Executing the run
# again writes a new plan from the checkpoint; chunks committed beyond it are walked again, and the
# already-billed re-check (then the partial unique constraint) keeps their accounts from a second bill.

_EXECUTIONS: dict[tuple[int, str], tuple[dict, dict, dict, set[int]]] = {}


def _execution(run: BillingRun, holder: str) -> tuple[dict, dict, dict, set[int]]:
    """Once per execution in each process: the period's parsed tariffs, the prepared-plan cache, and the ids
    of the routes of the run's scope (a chunk then reads its memberships by account range and these routes,
    whatever the planner thinks of the unit-path join)."""
    key = (run.pk, holder)
    got = _EXECUTIONS.get(key)
    if got is None:
        if len(_EXECUTIONS) >= 8:
            _EXECUTIONS.clear()
        spans, broken = load_spans(run.period_start, run.period_end)
        routes = (
            {run.route_id}
            if run.route_id
            else set(Route.objects.filter(unit__path__startswith=run.unit.path).values_list("pk", flat=True))
        )
        got = _EXECUTIONS[key] = (spans, broken, {}, routes)
    return got


def _plan(memberships, size: int) -> list[tuple[int, int, int]]:
    """The chunks of `size` accounts of the memberships in account order, as (first id, last id, count):
    numbered and grouped by the database (one query; a million ids never cross the wire)."""
    sql, params = memberships.values_list("account_id").order_by().query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT (n - 1) / %s AS g, min(a), max(a), count(*) FROM "  # noqa: S608 — the ORM's own SQL
            f"(SELECT s.account_id AS a, row_number() OVER (ORDER BY s.account_id) AS n FROM ({sql}) s) t "
            "GROUP BY g ORDER BY g",
            [size, *params],
        )
        return [(first, last, n) for _g, first, last, n in cur.fetchall()]


def plan_execution(
    run_id: int, holder: str, *, chunk_size: int = CHUNK_SIZE, job_id: int | None = None
) -> BillingRun:
    """Start an execution (the caller holds the lease as `holder`): the run's counters as the last execution
    left them (a done run is walked again from the start) and a new plan of chunks after the checkpoint."""
    run = BillingRun.objects.select_related("unit").get(pk=run_id)
    if run.status == BillingRunStatus.DONE:
        run.last_account_id = 0
        run.processed_count = 0
        run.skipped_count = 0
    scope = scope_memberships(run)
    chunks = _plan(scope.filter(account_id__gt=run.last_account_id), max(1, int(chunk_size)))
    with transaction.atomic():
        leases.renew(run, holder)
        run.status = BillingRunStatus.RUNNING
        run.error = ""
        run.started_at = run.started_at or timezone.now()
        run.finished_at = None
        run.processed_count = (
            scope.filter(account_id__lte=run.last_account_id).count() if run.last_account_id else 0
        )
        run.total_count = run.processed_count + sum(n for _first, _last, n in chunks)
        # Counted once here; each chunk then adds what it wrote.
        run.billed_count = Bill.objects.filter(run=run).exclude(status=BillStatus.CANCELLED).count()
        run.exception_count = BillingException.objects.filter(run=run).count()
        run.chunks_total = len(chunks)
        run.chunks_done = 0
        if job_id is not None:
            run.job_id = job_id
        run.save()
        if job_id is not None:
            Job.objects.filter(pk=job_id).update(total=len(chunks), done=0, heartbeat_at=timezone.now())
        BillingRunChunk.objects.filter(run=run).delete()
        BillingRunChunk.objects.bulk_create(
            [
                BillingRunChunk(run=run, index=i, first_account_id=first, last_account_id=last, size=n)
                for i, (first, last, n) in enumerate(chunks)
            ]
        )
    return run


def result_of(run: BillingRun) -> dict:
    """What a finished run's job keeps as its result."""
    return {
        "run_id": run.pk,
        "status": run.status,
        "total": run.total_count,
        "processed": run.processed_count,
        "billed": run.billed_count,
        "exceptions": run.exception_count,
        "skipped": run.skipped_count,
    }


def finish_empty(run: BillingRun, holder: str) -> BillingRun:
    """A plan without chunks (nothing after the checkpoint): the run is done at once."""
    with transaction.atomic():
        run = BillingRun.objects.select_for_update(no_key=True).get(pk=run.pk)
        run.status = BillingRunStatus.DONE
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at"])
        leases.release(run, holder)
    return run


def run_chunk(run_id: int, index: int, holder: str) -> bool:
    """Bill chunk `index` of the run's plan for the execution `holder` (see above). False when there was
    nothing to do: the chunk is done already or belongs to a replaced plan. LeaseLost: the execution is no
    longer the run's (nothing written). Any other error marks the run failed, releases the lease, fails the
    run's job, and is re-raised."""
    try:
        for attempt in (1, 2):
            try:
                with transaction.atomic():
                    return _run_chunk_once(run_id, index, holder)
            except IntegrityError:
                if attempt == 2:  # another writer billed some of these accounts meanwhile: re-checked once
                    raise
        raise AssertionError("unreachable")
    except leases.LeaseLost:
        raise
    except Exception as exc:
        fail(run_id, holder, f"{type(exc).__name__}: {exc}")
        raise


def _run_chunk_once(run_id: int, index: int, holder: str) -> bool:
    # Only the chunk's row (no join to the run through the default ordering: locking the run row here would
    # wait for every other chunk in flight, whose new bills hold KEY SHARE locks on it).
    chunk = (
        BillingRunChunk.objects.select_for_update(of=("self",))
        .filter(run_id=run_id, index=index)
        .order_by()
        .first()
    )
    if chunk is None or chunk.done:
        return False
    if not BillingRunLease.objects.filter(run_id=run_id, holder=holder).exists():
        raise leases.LeaseLost(f"billing run {run_id}: lease taken over by another executor")
    run = BillingRun.objects.select_related("unit").get(pk=run_id)
    spans, broken, plans, routes = _execution(run, holder)
    ids = [
        acc
        for acc, route in fetch(
            RouteMembership.objects.filter(
                account_id__gte=chunk.first_account_id, account_id__lte=chunk.last_account_id
            )
            .order_by("account_id")
            .values_list("account_id", "route_id")
        )
        if route in routes
    ]
    billed, exceptions, skipped = _chunk_write(run, ids, spans, broken, plans) if ids else (0, 0, 0)
    now = timezone.now()
    BillingRunChunk.objects.filter(pk=chunk.pk).update(done=True, finished_at=now)
    # The end of every chunk of the run passes here one at a time: the run row's lock. Each statement after
    # it sees the chunks committed before (read committed), so the checkpoint and the last-chunk test hold.
    # FOR NO KEY UPDATE: the other chunks' uncommitted bills hold KEY SHARE locks on this row (their run_id
    # reference), which FOR UPDATE would wait for, turning the chunks into one queue.
    run = BillingRun.objects.select_for_update(no_key=True).get(pk=run_id)
    leases.renew(run, holder)
    first_open = (
        BillingRunChunk.objects.filter(run_id=run_id, done=False)
        .order_by("index")
        .values_list("index", flat=True)
        .first()
    )
    prefix = BillingRunChunk.objects.filter(run_id=run_id)
    if first_open is not None:
        prefix = prefix.filter(index__lt=first_open)
    checkpoint = prefix.order_by("-index").values_list("last_account_id", flat=True).first()
    BillingRun.objects.filter(pk=run_id).update(
        last_account_id=max(run.last_account_id, checkpoint or 0),
        processed_count=F("processed_count") + len(ids),
        billed_count=F("billed_count") + billed,
        exception_count=F("exception_count") + exceptions,
        skipped_count=F("skipped_count") + skipped,
        chunks_done=F("chunks_done") + 1,
    )
    run.refresh_from_db()
    last = run.chunks_done >= run.chunks_total
    if last:
        run.status = BillingRunStatus.DONE
        run.finished_at = now
        run.save(update_fields=["status", "finished_at"])
        leases.release(run, holder)
    if run.job_id:
        from gridcare.jobs import services as jobs

        Job.objects.filter(pk=run.job_id).update(
            done=run.chunks_done, total=run.chunks_total, heartbeat_at=now
        )
        if last:
            jobs.finish(run.job_id, result_of(run))
    return True


def fail(run_id: int, holder: str, error: str) -> None:
    """The execution `holder` failed: the run keeps the error (when the lease is still ours), the lease is
    released so the run can be executed again, and the run's job fails with the same error."""
    with transaction.atomic():
        mine = BillingRunLease.objects.filter(run_id=run_id, holder=holder).exists()
        if not mine:
            return
        BillingRun.objects.filter(pk=run_id).update(status=BillingRunStatus.FAILED, error=error[:2000])
        BillingRunLease.objects.filter(run_id=run_id, holder=holder).delete()
        job_id = BillingRun.objects.filter(pk=run_id).values_list("job_id", flat=True).first()
        if job_id:
            from gridcare.jobs import services as jobs

            jobs.fail(job_id, error)


def execute(run_id: int, *, chunk_size: int = CHUNK_SIZE, progress: Progress | None = None) -> BillingRun:
    """Run (or continue) a billing run in this process, its chunks one after the other; a finished run is
    walked again from the start, billing only the accounts still without a bill. Unexpected errors mark the
    run failed and are re-raised.

    Only one executor at a time: the run's lease (`gridcare.billing.leases`) is claimed first, and a run
    that is executing, or that shares accounts with an executing run of its period, is refused
    (`leases.RunBusy`, nothing written); the lease is renewed with every chunk and released at the end."""
    run = BillingRun.objects.select_related("unit").get(pk=run_id)
    holder = leases.claim(run)
    try:
        try:
            run = plan_execution(run_id, holder, chunk_size=chunk_size)
        except leases.LeaseLost:
            raise
        except Exception as exc:
            fail(run_id, holder, f"{type(exc).__name__}: {exc}")
            raise
        if progress:
            progress(run)
        for index in range(run.chunks_total):
            run_chunk(run_id, index, holder)
            if progress:
                progress(BillingRun.objects.select_related("unit").get(pk=run_id))
        if run.chunks_total == 0:
            finish_empty(run, holder)
        return BillingRun.objects.select_related("unit").get(pk=run_id)
    finally:
        leases.release(run, holder)


def launch(
    run_id: int, *, job_id: int, attempt: int, chunk_size: int = CHUNK_SIZE, in_process: bool
) -> BillingRun:
    """The `billing.run` job: claim the run's lease for this job (taking over the lease of an earlier attempt
    of the same job, e.g. re-queued by the stale-job cleanup), write the plan and fan its chunks out — as
    Celery tasks, or in this process (`in_process`: tests, `--inline`). The last chunk finishes the job."""
    from .tasks import bill_chunk

    run = BillingRun.objects.select_related("unit").get(pk=run_id)
    holder = leases.claim(run, holder=f"job:{job_id}:{attempt}:{leases.token()}", takeover=f"job:{job_id}:")
    try:
        run = plan_execution(run_id, holder, chunk_size=chunk_size, job_id=job_id)
        if run.chunks_total == 0:
            return finish_empty(run, holder)
        for index in range(run.chunks_total):
            if in_process:
                run_chunk(run_id, index, holder)
            else:
                bill_chunk.apply_async(args=[run_id, index, holder], retry=False)
    except leases.LeaseLost:
        raise
    except Exception as exc:
        fail(run_id, holder, f"{type(exc).__name__}: {exc}")
        raise
    return BillingRun.objects.select_related("unit").get(pk=run_id)
